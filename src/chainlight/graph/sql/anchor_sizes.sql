-- Anchor candidates: per chain, the firms whose main mount is on the chain's most downstream making tier
-- (``top_segments``) and that trade at all, each with its size: the mean of the logs that are known —
-- turnover (sales + purchases), registered capital (where above zero) and 1 + supplier count.
SELECT m.chain_id, b.uscc,
       (ln(greatest(b.sales_total + b.purchases_total, 1.0))
        + coalesce(CASE WHEN e.registered_capital > 0 THEN ln(e.registered_capital) END, 0.0)
        + coalesce(ln(1.0 + b.supplier_count), 0.0))
       / (1 + CASE WHEN e.registered_capital > 0 THEN 1 ELSE 0 END
            + CASE WHEN b.supplier_count IS NOT NULL THEN 1 ELSE 0 END) AS size
FROM {{ base }} b
JOIN {{ main }} m ON m.uscc = b.uscc
JOIN {{ top_segments }} t ON t.chain_id = m.chain_id AND t.segment_id = m.segment_id
JOIN enterprises e ON e.uscc = b.uscc
WHERE b.sales_total + b.purchases_total > 0
