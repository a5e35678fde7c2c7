-- Each firm's place in the graph: the per-firm aggregates (``base``) joined with its main mount, anchor
-- status, the iterative measures (``algo``: hops to an anchor, flow share, PageRank), its cluster
-- (main segment × city, kept from ``cluster_min_size`` firms) and its stable ties to large buyers.
WITH large AS (
    SELECT b.uscc FROM {{ base }} b LEFT JOIN {{ anchors }} a ON a.uscc = b.uscc
    WHERE a.uscc IS NOT NULL OR b.sales_total >= $large_sales
), ties AS (
    SELECT e.seller_uscc AS uscc, count(*) AS n
    FROM {{ supply }} e JOIN large l ON l.uscc = e.buyer_uscc
    WHERE e.is_supply AND e.months_active >= $stable_months AND e.stability >= $stable_stability
    GROUP BY 1
), keyed AS (
    SELECT b.uscc, CASE WHEN m.city IS NOT NULL AND m.city <> '' THEN m.segment_id || '@' || m.city END AS cluster_key
    FROM {{ base }} b LEFT JOIN {{ main }} m ON m.uscc = b.uscc
), sizes AS (
    SELECT cluster_key, count(*) AS n FROM keyed WHERE cluster_key IS NOT NULL GROUP BY 1
)
SELECT b.uscc, m.chain_id, m.tier, a.uscc IS NOT NULL AS is_anchor,
       CAST(g.hops_to_anchor AS BIGINT) AS hops_to_anchor, g.anchor_flow_share,
       b.customer_count, b.supplier_count, b.customer_hhi, b.top_customer_share, b.supplier_hhi,
       b.tenure_mean_months, b.tenure_max_months,
       g.pagerank,
       CASE WHEN s.n >= $cluster_min THEN k.cluster_key END AS cluster_id,
       CASE WHEN s.n >= $cluster_min THEN s.n END AS cluster_size,
       coalesce(t.n, 0) AS stable_large_ties,
       b.sales_total, b.purchases_total, b.sales_growth
FROM {{ base }} b
LEFT JOIN {{ main }} m ON m.uscc = b.uscc
LEFT JOIN {{ anchors }} a ON a.uscc = b.uscc
LEFT JOIN {{ algo }} g ON g.uscc = b.uscc
LEFT JOIN keyed k ON k.uscc = b.uscc
LEFT JOIN sizes s ON s.cluster_key = k.cluster_key
LEFT JOIN ties t ON t.uscc = b.uscc
