-- Every model-made claim about a firm, checked against hard data. One row per claim:
--   supplies  (a report says firm A supplies firm B): supported when invoices show A selling to B
--             (non-voided, buyer resolved to B); contradicted when A's resolved sales are in the data
--             but none go to B; unverifiable when A has no resolved sales at all.
--   makes     (a product listing was read as segment S): supported when the firm's own invoice items
--             are classified to S; contradicted when its items are classified, none to S;
--             unverifiable when none of its items are.
--   high_tech (the registry's high-tech flag): supported by granted patents held by the firm;
--             unverifiable without them (the certificate itself is not in the data).
-- The expert stage's firm_claims (report sentences about a firm; its supply claims are the facts above):
--   high_tech  supported by granted patents or the registry flag; contradicted by neither.
--   capacity   (expanded, doubled…): supported when verified sales of the last 12 months grew ≥ 50% on
--              the 12 before; contradicted when they grew < 10%; unverifiable otherwise.
--   certification, praise: unverifiable (no certificate data; opinion).
--   instruction: text that tries to instruct the reader; unverifiable, recorded and ignored.
-- Evidence ids are the three largest invoices (or the first three patents), in a fixed order.
WITH sales AS (
    SELECT i.invoice_id, i.seller_uscc, l.uscc AS buyer, i.amount, i.item_name, i.tax_code
    FROM invoices i LEFT JOIN {{ links }} l ON l.mention_id = 'invoice:' || i.invoice_id
    WHERE i.status = 'normal' AND i.amount > 0
), supply_claims AS (
    SELECT f.fact_id AS claim_id, f.subject_uscc AS uscc, 'supplies' AS kind, f.object_uscc AS object,
           f.source, f.source_id, f."start", f."end", f.span_text, r.published AS source_date
    FROM {{ facts }} f LEFT JOIN {{ reports }} r ON r.report_id = f.source_id
    WHERE f.kind = 'supply_claim' AND f.subject_uscc IS NOT NULL AND f.object_uscc IS NOT NULL
), supply_evidence AS (
    SELECT c.claim_id, array_slice(list(s.invoice_id ORDER BY s.amount DESC, s.invoice_id), 1, 3) AS ids
    FROM supply_claims c JOIN sales s ON s.seller_uscc = c.uscc AND s.buyer = c.object
    GROUP BY c.claim_id
), sellers AS (
    SELECT DISTINCT seller_uscc AS uscc FROM sales WHERE buyer IS NOT NULL
), item_segments AS (
    SELECT DISTINCT source_id AS item_key, segment_id FROM {{ facts }} WHERE kind = 'product_segment' AND source = 'item'
), classified AS (
    SELECT s.seller_uscc AS uscc, g.segment_id, s.invoice_id, s.amount
    FROM sales s JOIN item_segments g ON g.item_key = s.item_name || '|' || coalesce(s.tax_code, '')
), product_claims AS (
    SELECT f.fact_id AS claim_id, f.subject_uscc AS uscc, 'makes' AS kind, f.segment_id AS object,
           f.source, f.source_id, f."start", f."end", f.span_text, CAST(NULL AS DATE) AS source_date
    FROM {{ facts }} f WHERE f.kind = 'product_segment' AND f.source = 'product' AND f.subject_uscc IS NOT NULL
), product_evidence AS (
    SELECT c.claim_id, array_slice(list(k.invoice_id ORDER BY k.amount DESC, k.invoice_id), 1, 3) AS ids
    FROM product_claims c JOIN classified k ON k.uscc = c.uscc AND k.segment_id = c.object
    GROUP BY c.claim_id
), makers AS (SELECT DISTINCT uscc FROM classified),
patent_holders AS (
    SELECT l.uscc, p.patent_id FROM {{ patents }} p JOIN {{ links }} l ON l.mention_id = 'patent:' || p.patent_id
    WHERE l.uscc IS NOT NULL AND p.grant_date IS NOT NULL
), tech_claims AS (
    SELECT 'registry:high_tech:' || e.uscc AS claim_id, e.uscc, 'high_tech' AS kind, 'high_tech' AS object,
           'registry' AS source, e.uscc AS source_id, CAST(NULL AS BIGINT) AS "start", CAST(NULL AS BIGINT) AS "end",
           'high_tech = true' AS span_text, CAST(NULL AS DATE) AS source_date
    FROM enterprises e WHERE e.high_tech
), growth AS (
    SELECT seller_uscc AS uscc,
           sum(amount) FILTER (WHERE issue_date > (SELECT max(issue_date) FROM invoices) - INTERVAL 12 MONTH) AS recent,
           sum(amount) FILTER (WHERE issue_date <= (SELECT max(issue_date) FROM invoices) - INTERVAL 12 MONTH
                               AND issue_date > (SELECT max(issue_date) FROM invoices) - INTERVAL 24 MONTH) AS prior
    FROM {{ sales }} GROUP BY 1
), report_claims AS (
    SELECT c.claim_id, c.uscc, c.kind, c.kind AS object, 'report' AS source, c.report_id AS source_id, c."start",
           c."end", c.span_text, c.published AS source_date,
           (SELECT array_slice(list(h.patent_id ORDER BY h.patent_id), 1, 3) FROM patent_holders h WHERE h.uscc = c.uscc) AS patents,
           e.high_tech, g.recent / nullif(g.prior, 0) - 1 AS growth
    FROM {{ firm_claims }} c LEFT JOIN enterprises e USING (uscc) LEFT JOIN growth g USING (uscc)
    WHERE c.kind <> 'supply' AND c.uscc IS NOT NULL
), tech_evidence AS (
    SELECT c.claim_id, array_slice(list(h.patent_id ORDER BY h.patent_id), 1, 3) AS ids
    FROM tech_claims c JOIN patent_holders h USING (uscc) GROUP BY c.claim_id
)
SELECT c.*, CASE WHEN e.ids IS NOT NULL THEN 'supported' WHEN s.uscc IS NOT NULL THEN 'contradicted'
                 ELSE 'unverifiable' END AS verdict,
       coalesce(e.ids, []) AS evidence_ids,
       CASE WHEN e.ids IS NOT NULL THEN 'invoices show this flow'
            WHEN s.uscc IS NOT NULL THEN 'the seller''s resolved invoices show no sale to this buyer'
            ELSE 'no resolved sales invoices of the seller' END AS detail
FROM supply_claims c LEFT JOIN supply_evidence e USING (claim_id) LEFT JOIN sellers s ON s.uscc = c.uscc
UNION ALL
SELECT c.*, CASE WHEN e.ids IS NOT NULL THEN 'supported' WHEN m.uscc IS NOT NULL THEN 'contradicted'
                 ELSE 'unverifiable' END,
       coalesce(e.ids, []),
       CASE WHEN e.ids IS NOT NULL THEN 'its invoice items are goods of this segment'
            WHEN m.uscc IS NOT NULL THEN 'none of its invoice items are goods of this segment'
            ELSE 'none of its invoice items could be classified' END
FROM product_claims c LEFT JOIN product_evidence e USING (claim_id) LEFT JOIN makers m ON m.uscc = c.uscc
UNION ALL
SELECT c.*, CASE WHEN e.ids IS NOT NULL THEN 'supported' ELSE 'unverifiable' END, coalesce(e.ids, []),
       CASE WHEN e.ids IS NOT NULL THEN 'it holds granted patents' ELSE 'no granted patents found' END
FROM tech_claims c LEFT JOIN tech_evidence e USING (claim_id)
UNION ALL
SELECT claim_id, uscc, kind, object, source, source_id, "start", "end", span_text, source_date,
       CASE WHEN kind = 'high_tech' AND (array_length(patents) > 0 OR high_tech) THEN 'supported'
            WHEN kind = 'high_tech' THEN 'contradicted'
            WHEN kind = 'capacity' AND growth >= 0.5 THEN 'supported'
            WHEN kind = 'capacity' AND growth < 0.1 THEN 'contradicted'
            ELSE 'unverifiable' END,
       CASE WHEN kind = 'high_tech' THEN coalesce(patents, []) ELSE [] END,
       CASE WHEN kind = 'high_tech' THEN 'granted patents: ' || CASE WHEN patents IS NULL THEN 0 ELSE array_length(patents) END || ', registry high_tech: '
                                          || coalesce(CAST(high_tech AS VARCHAR), 'unknown')
            WHEN kind = 'capacity' THEN 'verified 12-month sales growth: ' || coalesce(CAST(round(growth, 3) AS VARCHAR), 'unknown')
            WHEN kind = 'instruction' THEN 'instruction-like text: recorded and ignored'
            ELSE 'no hard data can confirm this kind of claim' END
FROM report_claims
