-- The workspace's own product vocabulary: each listed product name with the main segments of the firms
-- that list it, for placing reports that name their segment in words the ontology does not hold.
SELECT p.product_name AS term, m.segment_id, count(*) AS firms
FROM {{ products }} p JOIN {{ main_segments }} m ON m.uscc = p.uscc
WHERE length(p.product_name) >= 2
GROUP BY ALL ORDER BY term, segment_id
