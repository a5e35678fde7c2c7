-- Each ambiguous invoice-buyer mention without a registered USCC, linked where its (name, seller) was
-- settled by the seller's known partners (partners.sql, decided in _resolve_partner_names).
SELECT m.mention_id, d.uscc, d.score
FROM _resolve_mentions m
JOIN invoices i ON m.source = 'invoice' AND i.invoice_id = m.source_id
JOIN _resolve_partner_names d ON d.name = m.name_as_written AND d.seller_uscc = i.seller_uscc
LEFT JOIN (SELECT DISTINCT uscc FROM enterprises) e ON e.uscc = m.given_uscc
WHERE e.uscc IS NULL
