-- A firm's invoice lines as seller, each with its customer: the resolved buyer (entity_links), else
-- the buyer USCC or name as written. Same rule as the graph stage: another party, every status kept
-- here (voids are an indicator); what counts as revenue is filtered where it is summed.
SELECT i.seller_uscc AS uscc,
       coalesce(l.uscc, nullif(i.buyer_uscc, ''), 'name:' || i.buyer_name) AS customer,
       i.amount, i.issue_date, i.status
FROM invoices i
LEFT JOIN {{ links }} l ON l.mention_id = 'invoice:' || i.invoice_id
WHERE i.seller_uscc IS DISTINCT FROM coalesce(l.uscc, nullif(i.buyer_uscc, ''))
