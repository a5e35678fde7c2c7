-- The operating indicators, each a hard-data figure with small-sample noise shrunk toward the
-- economy-wide level (empirical Bayes), so a firm with three invoices is not an outlier by chance:
--   like-for-like growth: the firm's pooled relationship slope minus its markets' slopes, times
--     tau² / (tau² + sigma²/Sxx) — sigma² the residual variance, tau² the spread of true slopes;
--   churn, new-customer, void and recent-churn rates: (events + k·p) / (trials + k) with p the economy-wide rate;
--   (the order-size change comes shrunk from the shared recent-movement rule).
WITH noise AS (
    SELECT sum(resid_ss) / nullif(sum(resid_dof), 0) AS sigma2 FROM {{ inputs }}
), spread AS (
    SELECT greatest(var_pop(i.excess_slope) - avg(n.sigma2 / i.lfl_sxx), 1e-4) AS tau2, any_value(n.sigma2) AS sigma2
    FROM {{ inputs }} i CROSS JOIN noise n WHERE i.lfl_sxx > 0
), rates AS (
    SELECT sum(customers_lost) / nullif(sum(customers), 0) AS p_lost,
           sum(customers_new) / nullif(sum(customers), 0) AS p_new,
           sum(invoices_voided) / nullif(sum(invoices_issued), 0) AS p_void,
           sum(customers_quiet) / nullif(sum(customers_before), 0) AS p_quiet
    FROM {{ inputs }}
)
SELECT i.*,
       round(CASE WHEN i.lfl_sxx > 0 THEN i.excess_slope * s.tau2 / (s.tau2 + s.sigma2 / i.lfl_sxx) END, 6)
           AS excess_growth,
       round((i.customers_lost + $k_customers * r.p_lost) / (i.customers + $k_customers), 6) AS churn_rate,
       round((i.customers_new + $k_customers * r.p_new) / (i.customers + $k_customers), 6) AS new_customer_rate,
       round((i.invoices_voided + $k_invoices * r.p_void) / (i.invoices_issued + $k_invoices), 6) AS void_rate,
       round((i.customers_quiet + $k_customers * r.p_quiet) / (i.customers_before + $k_customers), 6) AS recent_churn,
       CASE WHEN i.revenue_growth_yoy IS NOT NULL
            THEN round(ln(1 + greatest(least(i.revenue_growth_yoy, 3.0), -0.95)), 6) END AS log_growth_yoy,
       round(ln(1 + i.stable_large_ties), 6) AS log_stable_ties
FROM {{ inputs }} i CROSS JOIN spread s CROSS JOIN rates r
