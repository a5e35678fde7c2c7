-- Every invoice with its resolved buyer (NULL when unresolved) and whether the shared sales rule counts it:
-- what the history features (chain_features.sql) read, joined with the links once per run, not per date.
SELECT i.seller_uscc, i.issue_date, i.amount, i.status, l.uscc AS buyer, s.invoice_id IS NOT NULL AS counted
FROM invoices i LEFT JOIN {{ links }} l ON l.mention_id = 'invoice:' || i.invoice_id
LEFT JOIN (SELECT DISTINCT invoice_id FROM {{ sales }}) s ON s.invoice_id = i.invoice_id
