-- Is an edge supply? Consistent with the ontology (some segment of the seller upstream of some
-- segment of the buyer, or the same segment) and above the volume floor; without mounts, recurring
-- (≥ 3 active months) and above the floor.
SELECT e.*,
       CASE WHEN NOT $has_mounts THEN NULL
            ELSE EXISTS (SELECT 1 FROM {{ mounts }} ms JOIN {{ mounts }} mb ON mb.uscc = e.buyer_uscc
                         LEFT JOIN {{ segment_edges }} se
                           ON se.source_segment_id = ms.segment_id AND se.target_segment_id = mb.segment_id
                         WHERE ms.uscc = e.seller_uscc
                           AND (se.source_segment_id IS NOT NULL OR ms.segment_id = mb.segment_id)) END
           AS ontology_consistent
FROM {{ edges }} e
