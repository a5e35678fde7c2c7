-- Seasonal factors per calendar month, in logs: the mean deviation of an invoice's log amount from its
-- own customer relationship's mean, so the mix of firms and relationships does not pass for seasonality.
WITH lines AS (
    SELECT uscc, customer, month(issue_date) AS m, ln(amount) AS y
    FROM {{ sales }} WHERE status = 'normal' AND amount > 0
), dev AS (
    SELECT m, y - avg(y) OVER (PARTITION BY uscc, customer) AS d FROM lines
), raw AS (
    SELECT m, avg(d) AS s FROM dev GROUP BY m
)
SELECT m AS month_of_year, round(s - avg(s) OVER (), 9) AS log_factor FROM raw
