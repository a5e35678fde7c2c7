-- Supply edges from invoices via resolved buyers: volume, timing, steadiness and shares.
-- ``sales`` is the shared rule: voided invoices ignored, red-letter reversals netted.
-- Every sum is over integers (fen, months) so that it is exact and independent of the order threads
-- add rows in; DOUBLE appears only in per-row arithmetic on those exact sums (bit-identical reruns).
-- ``lines``: each sale with its resolved buyer (``lines.sql``), a table of its own: read twice below, and an
-- engine that inlines a CTE (Spark) would join the invoices with their links twice.
WITH inv AS (SELECT * FROM {{ lines }}),
monthly AS (
    SELECT seller, buyer, month, date_diff('month', DATE '2000-01-01', month) AS x,
           CAST(sum(amount_fen) AS DECIMAL(38, 0)) AS y
    FROM inv GROUP BY 1, 2, 3
), moments AS (  -- population variance and least-squares slope from exact sums
    SELECT seller, buyer,
           count(*) FILTER (WHERE y > 0) AS months_active,
           (date_diff('month', min(month), max(month)) + 1) AS span_months,
           count(*) AS n, sum(y) AS sy, sum(y * y) AS syy, sum(x) AS sx, sum(x * x) AS sxx, sum(x * y) AS sxy
    FROM monthly GROUP BY 1, 2
), steadiness AS (
    SELECT seller, buyer, months_active, span_months,
           -- stddev_pop / mean = sqrt(n Σy² − (Σy)²) / Σy
           coalesce(sqrt(CAST(n * syy - sy * sy AS DOUBLE)) / nullif(CAST(sy AS DOUBLE), 0), 0) AS cv,
           -- (slope of y over months) / mean, annualised; the slope is (nΣxy − ΣxΣy) / (nΣx² − (Σx)²)
           coalesce(CAST(n * sxy - sx * sy AS DOUBLE) / nullif(CAST(n * sxx - sx * sx AS DOUBLE), 0)
                    / nullif(CAST(sy AS DOUBLE) / n, 0), 0) * 12 AS trend
    FROM moments
), edges AS (
    SELECT seller, buyer, sum(amount_fen) AS amount_fen, count(*) FILTER (WHERE amount_fen > 0) AS invoice_count,
           min(issue_date) AS first_date, max(issue_date) AS last_date
    FROM inv GROUP BY 1, 2 HAVING sum(amount_fen) > 0
), sales AS (
    SELECT seller_uscc AS uscc, sum(amount_fen) AS total_fen FROM {{ sales }}
    WHERE seller_uscc IS DISTINCT FROM buyer_uscc GROUP BY 1
), purchases AS (
    SELECT buyer AS uscc, sum(amount_fen) AS total_fen FROM edges GROUP BY 1
)
SELECT e.seller AS seller_uscc, e.buyer AS buyer_uscc, CAST(e.amount_fen AS DOUBLE) / 100 AS amount, e.invoice_count,
       s.months_active, e.first_date, e.last_date,
       (s.months_active / s.span_months) / (1 + s.cv) AS stability,
       s.trend,
       CAST(e.amount_fen AS DOUBLE) / nullif(CAST(sa.total_fen AS DOUBLE), 0) AS seller_revenue_share,
       CAST(e.amount_fen AS DOUBLE) / nullif(CAST(p.total_fen AS DOUBLE), 0) AS buyer_purchase_share
FROM edges e
JOIN steadiness s USING (seller, buyer)
LEFT JOIN sales sa ON sa.uscc = e.seller
LEFT JOIN purchases p ON p.uscc = e.buyer
