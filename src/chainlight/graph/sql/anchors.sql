-- Anchor enterprises (核心企业): the configured list, plus per chain the ``top_k`` firms with the largest
-- turnover (sales + purchases) mounted on the chain's most downstream making tier (``top_segments``),
-- ties broken by uscc; a firm with no turnover is never an anchor.
SELECT uscc FROM {{ anchor_list }} WHERE uscc IN (SELECT uscc FROM {{ base }})
UNION
SELECT uscc FROM (
    SELECT b.uscc, b.sales_total + b.purchases_total AS turnover,
           row_number() OVER (PARTITION BY m.chain_id ORDER BY b.sales_total + b.purchases_total DESC, b.uscc) AS pos
    FROM {{ base }} b
    JOIN {{ main }} m ON m.uscc = b.uscc
    JOIN {{ top_segments }} t ON t.chain_id = m.chain_id AND t.segment_id = m.segment_id
) ranked
WHERE pos <= $top_k AND turnover > 0
