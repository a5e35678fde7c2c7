-- Per-firm features that are plain aggregates over supply edges and invoices.
WITH supply AS (SELECT * FROM {{ edges }} WHERE is_supply),
sales_tot AS (SELECT seller_uscc AS uscc, sum(amount) AS s FROM supply GROUP BY 1),
cust AS (
    SELECT e.seller_uscc AS uscc, count(*) AS customer_count,
           sum(power(e.amount / t.s, 2)) AS customer_hhi, max(e.amount / t.s) AS top_customer_share,
           avg(date_diff('month', e.first_date, e.last_date) + 1) AS tenure_mean_months,
           max(date_diff('month', e.first_date, e.last_date) + 1) AS tenure_max_months
    FROM supply e JOIN sales_tot t ON t.uscc = e.seller_uscc GROUP BY 1
), buy_tot AS (SELECT buyer_uscc AS uscc, sum(amount) AS s FROM supply GROUP BY 1),
supp AS (
    SELECT e.buyer_uscc AS uscc, count(*) AS supplier_count, sum(power(e.amount / t.s, 2)) AS supplier_hhi,
           t.s AS purchases_total
    FROM supply e JOIN buy_tot t ON t.uscc = e.buyer_uscc GROUP BY 1, t.s
), sales AS (
    SELECT seller_uscc AS uscc, sum(amount) AS sales_total,
           sum(amount) FILTER (WHERE issue_date > (SELECT max(issue_date) FROM invoices) - INTERVAL 12 MONTH) AS last_12m,
           sum(amount) FILTER (WHERE issue_date <= (SELECT max(issue_date) FROM invoices) - INTERVAL 12 MONTH
                               AND issue_date > (SELECT max(issue_date) FROM invoices) - INTERVAL 24 MONTH) AS prev_12m
    FROM {{ sales }} WHERE seller_uscc IS DISTINCT FROM buyer_uscc GROUP BY 1
)
SELECT e.uscc, coalesce(c.customer_count, 0) AS customer_count, coalesce(s.supplier_count, 0) AS supplier_count,
       c.customer_hhi, c.top_customer_share, s.supplier_hhi, c.tenure_mean_months, c.tenure_max_months,
       coalesce(sa.sales_total, 0) AS sales_total, coalesce(s.purchases_total, 0) AS purchases_total,
       CASE WHEN sa.prev_12m > 0 THEN sa.last_12m / sa.prev_12m - 1 END AS sales_growth
FROM (SELECT uscc FROM enterprises) e
LEFT JOIN cust c USING (uscc) LEFT JOIN supp s USING (uscc) LEFT JOIN sales sa USING (uscc)
