-- Invoice, patent and claim features of each (uscc, as_of) pair, using only what was known on as_of:
-- invoices issued on or before it (12- and 24-month windows), patents granted by then, claims from
-- reports published by then. Voided invoices count only in the void rate; red-letter reversals net.
-- Money is summed as DECIMAL and ratios are rounded, so reruns give bit-identical features.
-- ``lines``: every invoice with its resolved buyer and whether it counts as a sale (the shared sales rule),
-- joined once per build instead of once per observation date and feature.
WITH obs AS (SELECT DISTINCT uscc, as_of FROM {{ obs }}),
inv AS (
    SELECT o.uscc, o.as_of, CAST(i.amount AS DECIMAL(18, 2)) AS amount, i.status, i.issue_date, i.buyer, i.counted,
           date_trunc('month', i.issue_date) AS month,
           i.issue_date > o.as_of - INTERVAL 12 MONTH AS recent
    FROM obs o JOIN {{ lines }} i ON i.seller_uscc = o.uscc
         AND i.issue_date <= o.as_of AND i.issue_date > o.as_of - INTERVAL 24 MONTH
    WHERE i.buyer IS DISTINCT FROM i.seller_uscc
), counted AS (SELECT * FROM inv WHERE counted),
per_buyer AS (
    SELECT uscc, as_of, buyer,
           sum(amount) FILTER (WHERE recent) AS recent_amount,
           sum(amount) FILTER (WHERE NOT recent) AS prior_amount
    FROM counted WHERE buyer IS NOT NULL GROUP BY ALL
), buyers AS (
    SELECT p.uscc, p.as_of,
           count(*) FILTER (WHERE p.recent_amount > 0) AS customers_12m,
           count(*) FILTER (WHERE p.prior_amount > 0) AS customers_prior,
           count(*) FILTER (WHERE p.prior_amount > 0 AND coalesce(p.recent_amount, 0) <= 0) AS customers_lost,
           max(p.recent_amount) AS top_amount,
           sum(p.recent_amount) FILTER (WHERE g.is_anchor) AS anchor_amount
    FROM per_buyer p LEFT JOIN {{ graph }} g ON g.uscc = p.buyer GROUP BY ALL
), totals AS (
    SELECT o.uscc, o.as_of,
           CAST(coalesce(sum(c.amount) FILTER (WHERE c.recent), 0) AS DOUBLE) AS verified_turnover,
           sum(c.amount) FILTER (WHERE NOT c.recent) AS turnover_prior,
           count(DISTINCT c.month) FILTER (WHERE c.recent AND c.amount > 0) AS months_active_12m
    FROM obs o LEFT JOIN counted c USING (uscc, as_of) GROUP BY ALL
), voids AS (
    SELECT uscc, as_of, avg(CASE WHEN status = 'voided' THEN 1 ELSE 0 END) AS void_rate  -- (integers: DOUBLE on both engines)
    FROM inv WHERE status <> 'red' GROUP BY ALL
), patents_held AS (
    SELECT o.uscc, o.as_of,
           count(*) FILTER (WHERE p.grant_date <= o.as_of) AS patents_granted,
           count(*) FILTER (WHERE p.apply_date <= o.as_of AND p.apply_date > o.as_of - INTERVAL 36 MONTH) AS patents_recent
    FROM obs o JOIN {{ links }} l ON l.uscc = o.uscc AND l.mention_id LIKE 'patent:%'
    JOIN {{ patents }} p ON 'patent:' || p.patent_id = l.mention_id GROUP BY ALL
), season AS (  -- log level of each month of the year against the whole year (one constant per month)
    SELECT month(issue_date) AS moy, avg(ln(amount)) - (SELECT avg(ln(amount)) FROM invoices
                                                          WHERE status = 'normal' AND amount > 0) AS factor
    FROM invoices WHERE status = 'normal' AND amount > 0 GROUP BY 1
), lfl_lines AS (  -- like-for-like: every normal invoice to a resolved customer up to as_of
    SELECT o.uscc, o.as_of, i.buyer, coalesce(bm.segment_id, sm.segment_id) AS market,
           date_diff('month', DATE '2000-01-01', i.issue_date) / 12.0 AS t, ln(i.amount) - s.factor AS y
    FROM obs o JOIN {{ lines }} i ON i.seller_uscc = o.uscc AND i.issue_date <= o.as_of
    JOIN season s ON s.moy = month(i.issue_date)
    LEFT JOIN (SELECT uscc, segment_id FROM {{ mounts }} WHERE rank = 1) bm ON bm.uscc = i.buyer
    LEFT JOIN (SELECT uscc, segment_id FROM {{ mounts }} WHERE rank = 1) sm ON sm.uscc = o.uscc
    WHERE i.status = 'normal' AND i.amount > 0 AND i.buyer IS NOT NULL AND i.buyer <> i.seller_uscc
), lfl_edges AS (  -- per relationship: least-squares sums of log amount on time (fixed effects pool them)
    SELECT uscc, as_of, buyer, any_value(market) AS market,
           coalesce(regr_sxx(y, t), 0) AS sxx, coalesce(regr_sxy(y, t), 0) AS sxy
    FROM lfl_lines GROUP BY uscc, as_of, buyer
), lfl_market AS (  -- each market's like-for-like slope as of the same date
    SELECT as_of, market, sum(sxy) / nullif(sum(sxx), 0) AS slope FROM lfl_edges WHERE sxx > 0 GROUP BY ALL
), lfl AS (  -- the firm's slope beyond its markets', shrunk towards 0 where few invoices measure it
    SELECT e.uscc, e.as_of, sum(e.sxx) AS sxx,
           sum(e.sxy - coalesce(m.slope, 0) * e.sxx) / nullif(sum(e.sxx), 0) AS excess
    FROM lfl_edges e LEFT JOIN lfl_market m USING (as_of, market) GROUP BY ALL
), purchases AS (  -- what it buys: firms choose steadier, healthier customers, so suppliers reveal health
    SELECT o.uscc, o.as_of, count(DISTINCT i.seller_uscc) AS suppliers_12m,
           CAST(sum(CAST(i.amount AS DECIMAL(18, 2))) AS DOUBLE) AS purchases_12m
    FROM obs o JOIN {{ lines }} i ON i.buyer = o.uscc AND i.counted
    WHERE i.issue_date <= o.as_of AND i.issue_date > o.as_of - INTERVAL 12 MONTH
      AND i.seller_uscc <> o.uscc
    GROUP BY ALL
), ties AS (  -- lasting ties to large buyers (anchors or ≥ graph.large_firm_sales): a year or more between
             -- the first and the latest invoice up to as_of
    SELECT o.uscc, o.as_of, count(*) AS large_ties
    FROM (SELECT o.uscc, o.as_of, i.buyer, min(i.issue_date) AS first_day, max(i.issue_date) AS last_day
          FROM obs o JOIN {{ lines }} i ON i.seller_uscc = o.uscc AND i.issue_date <= o.as_of
          WHERE i.status = 'normal' AND i.amount > 0 AND i.buyer IS NOT NULL AND i.buyer <> i.seller_uscc
          GROUP BY ALL) o
    JOIN {{ graph }} g ON g.uscc = o.buyer AND (g.is_anchor OR g.sales_total >= $large_sales)
    WHERE date_diff('month', o.first_day, o.last_day) + 1 >= 12
    GROUP BY ALL
), claims AS (
    SELECT o.uscc, o.as_of, count(*) AS claims_supported
    FROM obs o JOIN {{ verdicts }} v ON v.uscc = o.uscc AND v.verdict = 'supported'
         AND (v.source_date IS NULL OR v.source_date <= o.as_of) GROUP BY ALL
)
SELECT t.uscc, t.as_of, t.verified_turnover,
       CASE WHEN t.turnover_prior > 0 THEN round(t.verified_turnover / CAST(t.turnover_prior AS DOUBLE) - 1, 6) END
           AS sales_growth,
       t.months_active_12m,
       coalesce(b.customers_12m, 0) AS customers_12m,
       CASE WHEN b.customers_prior > 0 THEN round(b.customers_lost / b.customers_prior, 6) END AS churn_rate,
       CASE WHEN t.verified_turnover > 0 THEN round(least(CAST(b.top_amount AS DOUBLE) / t.verified_turnover, 1), 6) END AS top_customer_share,
       CASE WHEN t.verified_turnover > 0 THEN round(CAST(coalesce(b.anchor_amount, 0) AS DOUBLE) / t.verified_turnover, 6) END
           AS anchor_sales_share,
       coalesce(k.large_ties, 0) AS large_ties,
       round(v.void_rate, 6) AS void_rate,
       coalesce(p.patents_granted, 0) AS patents_granted,
       coalesce(p.patents_recent, 0) AS patents_recent,
       coalesce(c.claims_supported, 0) AS claims_supported,
       round(g.excess * g.sxx / (g.sxx + $lfl_prior), 6) AS like_for_like_growth,
       rc.order_size_change, rc.order_rate_change,
       round(rc.customers_quiet / nullif(rc.customers_before, 0), 6) AS recent_churn,
       coalesce(u.suppliers_12m, 0) AS suppliers_12m,
       CASE WHEN t.verified_turnover > 0 THEN round(coalesce(u.purchases_12m, 0) / t.verified_turnover, 6) END
           AS purchase_ratio
FROM totals t
LEFT JOIN buyers b USING (uscc, as_of) LEFT JOIN voids v USING (uscc, as_of)
LEFT JOIN patents_held p USING (uscc, as_of) LEFT JOIN claims c USING (uscc, as_of)
LEFT JOIN lfl g USING (uscc, as_of) LEFT JOIN purchases u USING (uscc, as_of) LEFT JOIN ties k USING (uscc, as_of)
LEFT JOIN {{ recent }} rc USING (uscc, as_of)  -- recent movement: the shared rule (chainlight/sql/recent_movement.sql)
