-- Per-firm features that are plain aggregates over supply edges and invoices.
-- Money is summed in integer fen (edge amounts are whole cents, so round(amount * 100) is exact) and
-- squares in DECIMAL(38, 0): exact sums, the same in any thread order.
WITH supply AS (SELECT *, CAST(round(amount * 100) AS DECIMAL(38, 0)) AS fen FROM {{ edges }} WHERE is_supply),
sales_tot AS (SELECT seller_uscc AS uscc, sum(fen) AS s FROM supply GROUP BY 1),
cust AS (
    SELECT e.seller_uscc AS uscc, count(*) AS customer_count,
           CAST(sum(e.fen * e.fen) AS DOUBLE) / power(CAST(t.s AS DOUBLE), 2) AS customer_hhi,
           CAST(max(e.fen) AS DOUBLE) / CAST(t.s AS DOUBLE) AS top_customer_share,
           avg(date_diff('month', e.first_date, e.last_date) + 1) AS tenure_mean_months,
           max(date_diff('month', e.first_date, e.last_date) + 1) AS tenure_max_months
    FROM supply e JOIN sales_tot t ON t.uscc = e.seller_uscc GROUP BY 1, t.s
), buy_tot AS (SELECT buyer_uscc AS uscc, sum(fen) AS s FROM supply GROUP BY 1),
supp AS (
    SELECT e.buyer_uscc AS uscc, count(*) AS supplier_count,
           CAST(sum(e.fen * e.fen) AS DOUBLE) / power(CAST(t.s AS DOUBLE), 2) AS supplier_hhi,
           CAST(t.s AS DOUBLE) / 100 AS purchases_total
    FROM supply e JOIN buy_tot t ON t.uscc = e.buyer_uscc GROUP BY 1, t.s
), bounds AS (SELECT max(issue_date) AS last FROM invoices),
sales AS (
    SELECT seller_uscc AS uscc, sum(amount_fen) AS sales_fen,
           sum(amount_fen) FILTER (WHERE issue_date > b.last - INTERVAL 12 MONTH) AS last_12m,
           sum(amount_fen) FILTER (WHERE issue_date <= b.last - INTERVAL 12 MONTH
                                   AND issue_date > b.last - INTERVAL 24 MONTH) AS prev_12m
    FROM {{ sales }} CROSS JOIN bounds b WHERE seller_uscc IS DISTINCT FROM buyer_uscc GROUP BY 1
)
SELECT e.uscc, coalesce(c.customer_count, 0) AS customer_count, coalesce(s.supplier_count, 0) AS supplier_count,
       c.customer_hhi, c.top_customer_share, s.supplier_hhi, c.tenure_mean_months, c.tenure_max_months,
       coalesce(CAST(sa.sales_fen AS DOUBLE) / 100, 0) AS sales_total, coalesce(s.purchases_total, 0) AS purchases_total,
       CASE WHEN sa.prev_12m > 0 THEN CAST(sa.last_12m AS DOUBLE) / CAST(sa.prev_12m AS DOUBLE) - 1 END AS sales_growth
FROM (SELECT uscc FROM enterprises) e
LEFT JOIN cust c USING (uscc) LEFT JOIN supp s USING (uscc) LEFT JOIN sales sa USING (uscc)
