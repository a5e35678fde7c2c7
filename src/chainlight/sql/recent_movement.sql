-- Recent movement of a firm's sales as of a date, one rule for the expert's score (at the data end and
-- point in time) and the risk engine's features (at each observation date), keyed by (uscc, as_of).
-- A firm in trouble sells less before it fails: orders shrink within the same customers, come less
-- often, and customers go quiet. Normal sales with a positive amount in the 18 months up to as_of,
-- each relationship's seasonally adjusted log amounts of the last $recent_months against the months
-- before. order_size_change: the precision-weighted mean change shrunk toward 0 by $recent_prior (invoice
-- pairs at which half of it is believed); the counts behind the churn are kept for each caller's form.
-- Inputs: {{ obs }} (uscc, as_of), {{ sales }} (uscc, customer, amount, issue_date, status) and
-- {{ season }} (as_of, month_of_year, log_factor: the seasonal factors from the sales up to that date).
WITH lines AS (
    SELECT o.uscc, o.as_of, s.customer, ln(s.amount) - f.log_factor AS y,
           s.issue_date > o.as_of - to_months(CAST($recent_months AS INTEGER)) AS last
    FROM {{ obs }} o JOIN {{ sales }} s ON s.uscc = o.uscc AND s.issue_date <= o.as_of
         AND s.issue_date > o.as_of - INTERVAL 18 MONTH
    JOIN {{ season }} f ON f.as_of = o.as_of AND f.month_of_year = month(s.issue_date)
    WHERE s.status = 'normal' AND s.amount > 0
), edges AS (
    SELECT uscc, as_of, customer, count(*) FILTER (WHERE last) AS n_last, count(*) FILTER (WHERE NOT last) AS n_before,
           avg(y) FILTER (WHERE last) - avg(y) FILTER (WHERE NOT last) AS dy
    FROM lines GROUP BY uscc, as_of, customer
)
-- per firm and date: the order-size change within the same customers as precision-weighted sums (each
-- relationship's difference weighted by n_last·n_before/(n_last + n_before)), the log ratio of orders per
-- month lately to before (+0.25 a month so a silent spell is finite), and the customers of before that
-- bought nothing lately
SELECT uscc, as_of,
       round(sum(dy * n_last * n_before / (n_last + n_before)) FILTER (WHERE n_last > 0 AND n_before > 0)
             / (sum(n_last * n_before / (n_last + n_before)) FILTER (WHERE n_last > 0 AND n_before > 0) + $recent_prior), 6)
           AS order_size_change,
       round(ln((sum(n_last) / $recent_months + 0.25) / (sum(n_before) / (18 - $recent_months) + 0.25)), 6)
           AS order_rate_change,
       count(*) FILTER (WHERE n_before > 0 AND n_last = 0) AS customers_quiet,
       count(*) FILTER (WHERE n_before > 0) AS customers_before
FROM edges GROUP BY uscc, as_of
