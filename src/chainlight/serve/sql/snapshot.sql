-- What the service copies into memory at start and on reload, one query per table, read from the
-- workspace attached read-only as `src`. A table whose source is absent (a stage not run or not built)
-- is skipped, and the parts of the API that need it say so. Fixed orderings keep lookups cache-friendly.

-- name: enterprises
SELECT uscc, name, scope, industry_code, province, city, founded, registered_capital, high_tech
FROM src.enterprises ORDER BY uscc

-- name: aliases
SELECT uscc, alias, kind FROM src.aliases ORDER BY uscc, alias

-- name: products
SELECT uscc, product_name, description FROM src.products ORDER BY uscc, product_name

-- name: chains
SELECT chain_id, name, tiers, ontology_version FROM src.chains ORDER BY chain_id

-- name: segments
SELECT segment_id, chain_id, name, tier, tier_rank, parent_id FROM src.segments ORDER BY segment_id

-- name: segment_edges
SELECT source_segment_id, target_segment_id, weight, cross_chain FROM src.segment_edges
ORDER BY source_segment_id, target_segment_id

-- name: mounts
SELECT uscc, segment_id, chain_id, tier, share, confidence, rank FROM src.mounts ORDER BY uscc, rank

-- name: mount_evidence
SELECT uscc, segment_id, signal, source_id, detail, weight FROM src.mount_evidence
ORDER BY uscc, segment_id, weight DESC, signal, source_id, detail

-- name: mounts_registry_only
SELECT uscc, segment_id, share, confidence, rank FROM src.mounts_registry_only ORDER BY uscc, rank

-- name: supply_edges
-- only supply (the graph stage's is_supply), the noise edges are not shown or walked
SELECT seller_uscc, buyer_uscc, amount, invoice_count, months_active, first_date, last_date, stability,
       trend, seller_revenue_share, buyer_purchase_share, ontology_consistent, is_supply
FROM src.supply_edges WHERE is_supply ORDER BY seller_uscc, buyer_uscc

-- name: graph_features
SELECT * EXCLUDE (run_id) FROM src.graph_features ORDER BY uscc

-- name: claims
-- supply claims read from reports by the extractor: what the text says, before any check
SELECT fact_id, source, source_id, span_text, subject, relation, object, subject_uscc, object_uscc, confidence, method
FROM src.facts WHERE kind = 'supply_claim' ORDER BY fact_id

-- name: monthly_sales
-- the trend chart's series: the shared sales rule (chainlight/sql/sales.sql), summed in fen
SELECT seller_uscc AS uscc, strftime(issue_date, '%Y-%m') AS month, sum(amount_fen) / 100.0 AS amount,
       count(*) AS invoices
FROM _sales GROUP BY 1, 2 ORDER BY 1, 2

-- name: operating_scores
SELECT uscc, score, coverage, reasons, method FROM src.operating_scores ORDER BY uscc

-- name: profiles
-- the expert's operating analysis and its text; `facts` stays in the workspace (the sentences name them)
SELECT * EXCLUDE (run_id, facts) FROM src.profiles ORDER BY uscc

-- name: trends
SELECT segment_id, chain_id, period, direction, strength, growth_pct, reports, statements, disagreement, citations
FROM src.trends ORDER BY segment_id, period

-- name: claim_verdicts
SELECT claim_id, uscc, kind, object, source, source_id, span_text, CAST(source_date AS VARCHAR) AS source_date,
       verdict, evidence_ids, detail
FROM src.claim_verdicts ORDER BY uscc, claim_id

-- name: decisions
-- the risk stage's batch decisions (one per application); online ones live in the audit log
SELECT application_id, uscc, decision, requested_amount, amount, pd, score, reasons, evidence, versions, decided_at,
       decision_traditional, amount_traditional, pd_traditional
FROM src.decisions ORDER BY uscc, decided_at, application_id
