-- Anchor candidates: per chain, the firms whose main mount is on the chain's most downstream making tier
-- (``top_segments``) and that trade at all, each with
-- - ``size``, its core score: the mean of the logs that are known — turnover (sales + purchases), registered
--   capital (where above zero) and 1 + held supplier output;
-- - ``hold``, held supplier output per supplier (NULL without suppliers).
-- Held supplier output is what a core firm (核心企业) has and a merely large buyer lacks: the sum over its
-- supply ties of the supplier's share of sales (how much the supplier depends on it) × the tie's length in
-- months over $tie_months (capped at 1: a tie that old counts in full) — many suppliers, dependent on it, on
-- long ties. Each term is summed as an integer in millionths, so the sum is exact in any order.
WITH held AS (
    SELECT buyer_uscc AS uscc, count(*) AS suppliers,
           sum(CAST(round(coalesce(seller_revenue_share, 0.0)
                          * least(date_diff('month', first_date, last_date) + 1, $tie_months)
                          * 1000000.0 / $tie_months) AS BIGINT)) AS held_millionths
    FROM {{ supply }} WHERE is_supply GROUP BY 1
)
SELECT m.chain_id, b.uscc,
       (ln(greatest(b.sales_total + b.purchases_total, 1.0))
        + coalesce(CASE WHEN e.registered_capital > 0 THEN ln(e.registered_capital) END, 0.0)
        + ln(1.0 + coalesce(h.held_millionths, 0) / 1000000.0))
       / (2 + CASE WHEN e.registered_capital > 0 THEN 1 ELSE 0 END) AS size,
       h.held_millionths / (1000000.0 * h.suppliers) AS hold
FROM {{ base }} b
JOIN {{ main }} m ON m.uscc = b.uscc
JOIN {{ top_segments }} t ON t.chain_id = m.chain_id AND t.segment_id = m.segment_id
JOIN enterprises e ON e.uscc = b.uscc
LEFT JOIN held h ON h.uscc = b.uscc
WHERE b.sales_total + b.purchases_total > 0
