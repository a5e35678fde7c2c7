-- The service's read queries over the in-memory snapshot (see snapshot.sql). Values are always bound
-- parameters ($name), never spliced into the text.

-- name: enterprise
SELECT uscc, name, scope, industry_code, province, city, CAST(founded AS VARCHAR) AS founded,
       registered_capital, high_tech
FROM enterprises WHERE uscc = $uscc

-- name: enterprise_names
SELECT e.uscc, e.name, e.city, m.segment_id, m.chain_id, s.name AS segment_name
FROM enterprises e
LEFT JOIN mounts m ON m.uscc = e.uscc AND m.rank = 1
LEFT JOIN segments s ON s.segment_id = m.segment_id
WHERE list_contains($usccs, e.uscc)

-- name: enterprise_names_bare
SELECT uscc, name, city, NULL AS segment_id, NULL AS chain_id, NULL AS segment_name
FROM enterprises WHERE list_contains($usccs, uscc)

-- name: name_contains
-- a plain substring hit on the registered name or an alias, after the resolver's own candidates
SELECT DISTINCT uscc FROM (
    SELECT uscc, name AS text FROM enterprises
    UNION ALL SELECT uscc, alias FROM aliases)
WHERE contains(text, $q) ORDER BY uscc LIMIT $limit

-- name: aliases
SELECT alias, kind FROM aliases WHERE uscc = $uscc ORDER BY kind, alias

-- name: products
SELECT product_name, description FROM products WHERE uscc = $uscc ORDER BY product_name

-- name: mounts
SELECT m.segment_id, s.name AS segment_name, m.chain_id, c.name AS chain_name, m.tier, m.share, m.confidence, m.rank
FROM mounts m LEFT JOIN segments s USING (segment_id) LEFT JOIN chains c ON c.chain_id = m.chain_id
WHERE m.uscc = $uscc ORDER BY m.rank, m.segment_id

-- name: mount_evidence
SELECT segment_id, signal, source_id, detail, weight FROM mount_evidence WHERE uscc = $uscc
ORDER BY segment_id, weight DESC, signal, source_id, detail

-- name: registered_as
SELECT r.segment_id, s.name AS segment_name, s.chain_id, s.tier, r.share, r.confidence, r.rank
FROM mounts_registry_only r LEFT JOIN segments s USING (segment_id)
WHERE r.uscc = $uscc ORDER BY r.rank, r.segment_id

-- name: graph_features
SELECT * FROM graph_features WHERE uscc = $uscc

-- name: monthly_sales
SELECT month, amount, invoices FROM monthly_sales WHERE uscc = $uscc ORDER BY month

-- name: claims
-- before the risk stage has run: the extractor's supply claims with the invoiced supply beside them
SELECT c.fact_id AS claim_id, 'supplies' AS kind, c.source, c.source_id, c.span_text, NULL AS source_date,
       c.subject_uscc, c.object_uscc AS object, NULL AS verdict, NULL AS detail, NULL AS evidence_ids
FROM claims c
WHERE c.subject_uscc = $uscc OR c.object_uscc = $uscc
ORDER BY c.fact_id

-- name: invoiced
SELECT seller_uscc, buyer_uscc, amount, months_active FROM supply_edges
WHERE list_contains($sellers, seller_uscc) AND list_contains($buyers, buyer_uscc)

-- name: chains
SELECT c.chain_id, c.name, c.tiers, c.ontology_version,
       (SELECT count(*) FROM segments s WHERE s.chain_id = c.chain_id) AS segments,
       (SELECT count(*) FROM mounts m WHERE m.chain_id = c.chain_id AND m.rank = 1) AS firms,
       (SELECT count(*) FROM graph_features f WHERE f.chain_id = c.chain_id AND f.is_anchor) AS anchors
FROM chains c ORDER BY c.chain_id

-- name: chain
SELECT chain_id, name, tiers, ontology_version FROM chains WHERE chain_id = $chain_id

-- name: chain_segments
-- firms: main mounts (rank 1); sales: those firms' total sales
SELECT s.segment_id, s.name, s.tier, s.tier_rank, s.parent_id,
       count(m.uscc) AS firms, coalesce(sum(f.sales_total), 0) AS sales,
       count(*) FILTER (WHERE f.is_anchor) AS anchors
FROM segments s
LEFT JOIN mounts m ON m.segment_id = s.segment_id AND m.rank = 1
LEFT JOIN graph_features f ON f.uscc = m.uscc
WHERE s.chain_id = $chain_id
GROUP BY ALL ORDER BY s.tier_rank, s.segment_id

-- name: chain_flows
-- money between segments: supply edges grouped by the seller's and the buyer's main segment,
-- for edges that touch the chain; `ontology` tells whether the chain model expects that flow
SELECT ms.segment_id AS source, mb.segment_id AS target, sum(se.amount) AS amount, count(*) AS edges,
       bool_or(sg.source_segment_id IS NOT NULL) AS ontology
FROM supply_edges se
JOIN mounts ms ON ms.uscc = se.seller_uscc AND ms.rank = 1
JOIN mounts mb ON mb.uscc = se.buyer_uscc AND mb.rank = 1
LEFT JOIN segment_edges sg ON sg.source_segment_id = ms.segment_id AND sg.target_segment_id = mb.segment_id
WHERE (ms.chain_id = $chain_id OR mb.chain_id = $chain_id) AND ms.segment_id <> mb.segment_id
GROUP BY 1, 2 ORDER BY 1, 2

-- name: chain_ontology_edges
SELECT e.source_segment_id AS source, e.target_segment_id AS target, e.weight, e.cross_chain
FROM segment_edges e JOIN segments s ON s.segment_id = e.source_segment_id OR s.segment_id = e.target_segment_id
WHERE s.chain_id = $chain_id GROUP BY ALL ORDER BY 1, 2

-- name: segment
SELECT segment_id, chain_id, name, tier, tier_rank FROM segments WHERE segment_id = $segment_id

-- name: segment_firms
SELECT m.uscc, e.name, e.city, m.confidence, f.sales_total, coalesce(f.is_anchor, false) AS is_anchor,
       f.hops_to_anchor, count(*) OVER () AS total
FROM mounts m JOIN enterprises e USING (uscc) LEFT JOIN graph_features f USING (uscc)
WHERE m.segment_id = $segment_id AND m.rank = 1
ORDER BY f.sales_total DESC NULLS LAST, m.uscc LIMIT $limit OFFSET $offset

-- name: segment_names
SELECT segment_id, name FROM segments WHERE list_contains($ids, segment_id)


-- name: operating_score
SELECT score, coverage, reasons, method FROM operating_scores WHERE uscc = $uscc

-- name: operating_profile
SELECT * EXCLUDE (uscc) FROM profiles WHERE uscc = $uscc

-- name: segment_trend
SELECT period, direction, strength, growth_pct, reports, statements, disagreement, citations
FROM trends WHERE segment_id = $segment_id ORDER BY period

-- name: claim_verdicts
-- claims about the firm (as subject) and claims that name it as the counterpart
SELECT claim_id, kind, source, source_id, span_text, source_date, uscc AS subject_uscc, object, verdict, detail,
       evidence_ids
FROM claim_verdicts WHERE uscc = $uscc OR object = $uscc ORDER BY kind, claim_id

-- name: latest_decision
SELECT * FROM decisions WHERE uscc = $uscc ORDER BY decided_at DESC, application_id DESC LIMIT 1
