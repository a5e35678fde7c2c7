-- Per firm, the chain evidence a decision shows: the next step towards an anchor (the largest supply
-- edge to a customer one hop closer) and the three largest customers by supply volume.
WITH steps AS (
    SELECT s.seller_uscc AS uscc, s.buyer_uscc AS next_uscc, s.amount,
           row_number() OVER (PARTITION BY s.seller_uscc ORDER BY s.amount DESC, s.buyer_uscc) AS k
    FROM supply_edges s JOIN graph_features a ON a.uscc = s.seller_uscc JOIN graph_features b ON b.uscc = s.buyer_uscc
    WHERE s.is_supply AND a.hops_to_anchor >= 1 AND b.hops_to_anchor = a.hops_to_anchor - 1
), customers AS (
    SELECT seller_uscc AS uscc, buyer_uscc, amount, months_active,
           row_number() OVER (PARTITION BY seller_uscc ORDER BY amount DESC, buyer_uscc) AS k
    FROM supply_edges WHERE is_supply
)
SELECT 'step' AS kind, uscc, next_uscc AS other, amount, CAST(NULL AS BIGINT) AS months_active, k
FROM steps WHERE k = 1
UNION ALL
SELECT 'customer', uscc, buyer_uscc, amount, months_active, k FROM customers WHERE k <= 3
ORDER BY kind, uscc, k
