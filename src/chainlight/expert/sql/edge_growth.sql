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
)
SELECT l.uscc, l.customer, count(*) AS n,
       coalesce(regr_sxx(l.y, l.t), 0) AS sxx, coalesce(regr_sxy(l.y, l.t), 0) AS sxy,
       coalesce(regr_syy(l.y, l.t), 0) AS syy,
       coalesce(cm.segment_id, sm.segment_id) AS market_segment
FROM lines l
LEFT JOIN {{ main_segments }} cm ON cm.uscc = l.customer
LEFT JOIN {{ main_segments }} sm ON sm.uscc = l.uscc
GROUP BY l.uscc, l.customer, cm.segment_id, sm.segment_id
