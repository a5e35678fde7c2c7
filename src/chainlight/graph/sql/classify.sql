-- Is an edge supply? Consistent with the ontology (some segment of the seller upstream of some
-- segment of the buyer, or the same segment) and above the volume floor; without mounts, recurring
-- (≥ 3 active months) and above the floor.
-- Equi-joins only: an EXISTS whose condition holds an OR (edge in the ontology, or the same segment)
-- is a nested-loop join on Spark (44 s of a 20k-firm graph stage, unfinished after 15 min at 1M).
WITH allowed AS (  -- (seller segment, buyer segment) pairs a supply edge may join
    SELECT DISTINCT source_segment_id, target_segment_id FROM {{ segment_edges }}
    UNION
    SELECT DISTINCT segment_id, segment_id FROM {{ mounts }}
), consistent AS (
    SELECT DISTINCT e.seller_uscc, e.buyer_uscc
    FROM {{ edges }} e
    JOIN {{ mounts }} ms ON ms.uscc = e.seller_uscc
    JOIN allowed a ON a.source_segment_id = ms.segment_id
    JOIN {{ mounts }} mb ON mb.uscc = e.buyer_uscc AND mb.segment_id = a.target_segment_id
)
SELECT e.*,
       CASE WHEN NOT $has_mounts THEN NULL ELSE c.seller_uscc IS NOT NULL END AS ontology_consistent
FROM {{ edges }} e
LEFT JOIN consistent c ON c.seller_uscc = e.seller_uscc AND c.buyer_uscc = e.buyer_uscc
