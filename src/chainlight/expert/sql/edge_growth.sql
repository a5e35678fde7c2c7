-- Like-for-like growth per customer relationship: the least-squares slope of the seasonally adjusted
-- log invoice amount on time (years), kept as sums so relationships pool into a firm (fixed effects).
-- Each relationship carries its customer's main segment, for the peer baseline of that market.
WITH bounds AS (SELECT min(issue_date) AS d0 FROM {{ sales }}),
lines AS (
    SELECT s.uscc, s.customer, date_diff('month', b.d0, s.issue_date) / 12.0 AS t,
           ln(s.amount) - f.log_factor AS y
    FROM {{ sales }} s CROSS JOIN bounds b
    JOIN {{ season }} f ON f.month_of_year = month(s.issue_date)
    WHERE s.status = 'normal' AND s.amount > 0
),
relationships AS (  -- the sums first, then the segments: two joins on a row per relationship, not per line
    SELECT uscc, customer, count(*) AS n, coalesce(regr_sxx(y, t), 0) AS sxx, coalesce(regr_sxy(y, t), 0) AS sxy,
           coalesce(regr_syy(y, t), 0) AS syy
    FROM lines GROUP BY uscc, customer
)
SELECT r.uscc, r.customer, r.n, r.sxx, r.sxy, r.syy, coalesce(cm.segment_id, sm.segment_id) AS market_segment
FROM relationships r
LEFT JOIN {{ main_segments }} cm ON cm.uscc = r.customer
LEFT JOIN {{ main_segments }} sm ON sm.uscc = r.uscc
