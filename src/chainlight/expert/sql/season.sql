-- Seasonal factors per calendar month, in logs: the mean residual of an invoice's log amount around
-- its own customer relationship's straight-line trend, so neither the mix of relationships nor their
-- growth passes for seasonality. Normalised to mean 0 over the twelve months. Twelve numbers need no
-- more than a sample: firms are drawn by a stable hash bucket of their USCC ($permille of every thousand).
WITH bounds AS (SELECT min(issue_date) AS d0 FROM {{ sales }}),
lines AS (
    SELECT s.uscc, s.customer, month(s.issue_date) AS m, ln(s.amount) AS y,
           date_diff('month', b.d0, s.issue_date) / 12.0 AS t
    FROM {{ sales }} s CROSS JOIN bounds b JOIN {{ firm_buckets }} fb ON fb.uscc = s.uscc AND fb.bucket < $permille
    WHERE s.status = 'normal' AND s.amount > 0
), fitted AS (
    SELECT m, y, t, CASE WHEN regr_sxx(y, t) OVER w > 0 THEN regr_sxy(y, t) OVER w / regr_sxx(y, t) OVER w ELSE 0 END
               AS slope, avg(y) OVER w AS ybar, avg(t) OVER w AS tbar
    FROM lines WINDOW w AS (PARTITION BY uscc, customer)
), raw AS (
    SELECT m, avg(y - ybar - slope * (t - tbar)) AS s FROM fitted GROUP BY m
)
SELECT m AS month_of_year, round(s - avg(s) OVER (), 9) AS log_factor FROM raw
