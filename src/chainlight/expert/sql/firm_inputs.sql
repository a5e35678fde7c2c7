-- Per firm, the hard-data operating figures the profile and the operating score are built from:
-- invoices (revenue, like-for-like growth, volatility, voids, customers won and lost on the graph's
-- supply edges, their steadiness, recent movement) and graph features (concentration, chain position).
-- No report text is read here.
-- Money sums go through DECIMAL so reruns are bit-identical; ratios are rounded where they are kept.
WITH bounds AS (SELECT min(issue_date) AS d0, max(issue_date) AS d1 FROM {{ sales }}),
revenue AS (
    SELECT s.uscc,
           CAST(coalesce(sum(CAST(s.amount AS DECIMAL(18, 2))) FILTER (
               WHERE s.is_sale AND s.issue_date > b.d1 - INTERVAL 12 MONTH), 0) AS DOUBLE) AS revenue_ttm,
           CAST(coalesce(sum(CAST(s.amount AS DECIMAL(18, 2))) FILTER (
               WHERE s.is_sale AND s.issue_date <= b.d1 - INTERVAL 12 MONTH
                 AND s.issue_date > b.d1 - INTERVAL 24 MONTH), 0) AS DOUBLE) AS revenue_prev,
           count(*) FILTER (WHERE s.status <> 'red') AS invoices_issued,
           count(*) FILTER (WHERE s.status = 'voided') AS invoices_voided
    FROM {{ sales }} s CROSS JOIN bounds b GROUP BY s.uscc
), quarters AS (  -- seasonally adjusted quarterly revenue, quarters counted from the data start
    SELECT s.uscc, date_diff('month', b.d0, s.issue_date) // 3 AS q,
           sum(s.amount / exp(f.log_factor)) AS adj
    FROM {{ sales }} s CROSS JOIN bounds b JOIN {{ season }} f ON f.month_of_year = month(s.issue_date)
    WHERE s.is_sale GROUP BY 1, 2
), volatility AS (  -- CV over the quarters from the first to the last with sales (silent quarters count as 0)
    SELECT uscc, max(q) - min(q) + 1 AS quarters_active,
           sqrt(greatest(sum(adj * adj) / (max(q) - min(q) + 1) - power(sum(adj) / (max(q) - min(q) + 1), 2), 0))
               / nullif(sum(adj) / (max(q) - min(q) + 1), 0) AS volatility
    FROM quarters GROUP BY uscc HAVING sum(adj) > 0
), baseline AS (  -- each market's like-for-like growth, pooled over all relationships selling into it
    SELECT market_segment, sum(sxy) / nullif(sum(sxx), 0) AS slope
    FROM {{ edge_growth }} WHERE sxx > 0 GROUP BY 1
), growth AS (
    SELECT g.uscc, sum(g.sxx) AS lfl_sxx, sum(g.sxy) / nullif(sum(g.sxx), 0) AS lfl_slope,
           sum(g.sxy - coalesce(b.slope, 0) * g.sxx) / nullif(sum(g.sxx), 0) AS excess_slope,
           sum(g.syy - CASE WHEN g.sxx > 0 THEN g.sxy * g.sxy / g.sxx ELSE 0 END) AS resid_ss,
           sum(greatest(g.n - 2, 0)) AS resid_dof
    FROM {{ edge_growth }} g LEFT JOIN baseline b USING (market_segment) GROUP BY g.uscc
), relationships AS (  -- per supply relationship (graph's is_supply), as seen on the invoices up to the data end
    SELECT s.uscc, s.customer, min(s.issue_date) AS first_date, max(s.issue_date) AS last_date, count(*) AS invoice_count,
           sum(CAST(s.amount AS DECIMAL(24, 2))) AS amount, any_value(e.stability) AS stability
    FROM {{ sales }} s JOIN {{ supply_edges }} e ON e.seller_uscc = s.uscc AND e.buyer_uscc = s.customer AND e.is_supply
    WHERE s.status = 'normal' GROUP BY 1, 2
), customers AS (
    SELECT r.uscc, count(*) AS customers,
           count(*) FILTER (WHERE r.first_date > b.d1 - INTERVAL 12 MONTH) AS customers_new,
           count(*) FILTER (WHERE date_diff('day', r.last_date, b.d1) > greatest($gap_months * 30.4,
               3.0 * CASE WHEN r.invoice_count > 1
                          THEN date_diff('day', r.first_date, r.last_date) / (r.invoice_count - 1) ELSE 0 END)
           ) AS customers_lost,
           sum(r.amount * CAST(round(r.stability, 6) AS DECIMAL(10, 6))) / nullif(sum(r.amount), 0) AS relationship_stability
    FROM relationships r CROSS JOIN bounds b WHERE r.amount > 0 GROUP BY 1
)
SELECT e.uscc, m.segment_id, coalesce(gf.chain_id, m.chain_id) AS chain_id, coalesce(gf.tier, m.tier) AS tier,
       coalesce(gf.is_anchor, false) AS is_anchor,
       coalesce(r.revenue_ttm, 0) AS revenue_ttm, coalesce(r.revenue_prev, 0) AS revenue_prev,
       round(CASE WHEN r.revenue_prev > 0 THEN r.revenue_ttm / r.revenue_prev - 1 END, 6) AS revenue_growth_yoy,
       coalesce(r.invoices_issued, 0) AS invoices_issued, coalesce(r.invoices_voided, 0) AS invoices_voided,
       v.quarters_active, round(v.volatility, 6) AS volatility,
       round(g.lfl_sxx, 6) AS lfl_sxx, round(g.lfl_slope, 6) AS lfl_slope, round(g.excess_slope, 6) AS excess_slope,
       round(g.resid_ss, 6) AS resid_ss, g.resid_dof,
       coalesce(c.customers, 0) AS customers, coalesce(c.customers_new, 0) AS customers_new,
       coalesce(c.customers_lost, 0) AS customers_lost,
       round(CAST(c.relationship_stability AS DOUBLE), 6) AS relationship_stability,
       round(gf.customer_hhi, 6) AS customer_hhi, round(gf.top_customer_share, 6) AS top_customer_share,
       gf.hops_to_anchor, round(gf.anchor_flow_share, 6) AS anchor_flow_share,
       coalesce(gf.stable_large_ties, 0) AS stable_large_ties, gf.supplier_count,
       rc.order_size_change, rc.order_rate_change,
       coalesce(rc.customers_quiet, 0) AS customers_quiet, coalesce(rc.customers_before, 0) AS customers_before
FROM (SELECT uscc FROM {{ firm_buckets }} WHERE bucket < $firms_permille) e  -- all, or the fit's sample
LEFT JOIN {{ main_segments }} m USING (uscc)
LEFT JOIN {{ graph_features }} gf USING (uscc)
LEFT JOIN revenue r USING (uscc)
LEFT JOIN volatility v USING (uscc)
LEFT JOIN growth g USING (uscc)
LEFT JOIN customers c USING (uscc)
LEFT JOIN {{ recent }} rc USING (uscc)  -- recent movement: the shared rule (chainlight/sql/recent_movement.sql)
