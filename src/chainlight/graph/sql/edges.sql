-- Supply edges from invoices via resolved buyers: volume, timing, steadiness and shares.
-- ``sales`` is the shared rule: voided invoices ignored, red-letter reversals netted.
WITH inv AS (
    SELECT i.seller_uscc AS seller, l.uscc AS buyer, i.amount, i.issue_date,
           date_trunc('month', i.issue_date) AS month
    FROM {{ sales }} i JOIN {{ links }} l ON l.mention_id = 'invoice:' || i.invoice_id
    WHERE l.uscc IS NOT NULL AND l.uscc <> i.seller_uscc
), monthly AS (
    SELECT seller, buyer, month, sum(amount) AS amount FROM inv GROUP BY 1, 2, 3
), steadiness AS (
    SELECT seller, buyer,
           count(*) FILTER (WHERE amount > 0) AS months_active,
           (date_diff('month', min(month), max(month)) + 1) AS span_months,
           coalesce(stddev_pop(amount) / nullif(avg(amount), 0), 0) AS cv,
           coalesce(regr_slope(amount, date_diff('month', DATE '2000-01-01', month)) / nullif(avg(amount), 0), 0)
               * 12 AS trend
    FROM monthly GROUP BY 1, 2
), edges AS (
    SELECT seller, buyer, sum(amount) AS amount, count(*) FILTER (WHERE amount > 0) AS invoice_count,
           min(issue_date) AS first_date, max(issue_date) AS last_date
    FROM inv GROUP BY 1, 2 HAVING sum(amount) > 0
), sales AS (
    SELECT seller_uscc AS uscc, sum(amount) AS total FROM {{ sales }}
    WHERE seller_uscc IS DISTINCT FROM buyer_uscc GROUP BY 1
), purchases AS (
    SELECT buyer AS uscc, sum(amount) AS total FROM edges GROUP BY 1
)
SELECT e.seller AS seller_uscc, e.buyer AS buyer_uscc, round(e.amount, 2) AS amount, e.invoice_count,
       s.months_active, e.first_date, e.last_date,
       (s.months_active / s.span_months) / (1 + s.cv) AS stability,
       s.trend,
       e.amount / nullif(sa.total, 0) AS seller_revenue_share,
       e.amount / nullif(p.total, 0) AS buyer_purchase_share
FROM edges e
JOIN steadiness s USING (seller, buyer)
LEFT JOIN sales sa ON sa.uscc = e.seller
LEFT JOIN purchases p ON p.uscc = e.buyer
