-- Ambiguous invoice-buyer names, each with a seller that writes it (on an invoice without a registered buyer
-- USCC) and every registered buyer USCC that seller writes on its other invoices (its known partners). The
-- partners depend only on the seller, so a name is decided once per (name, seller), not once per invoice.
SELECT DISTINCT m.name_as_written AS name, i.seller_uscc, k.buyer_uscc AS partner
FROM _resolve_mentions m
JOIN _resolve_names r ON r.name = m.name_as_written AND r.method = 'ambiguous'
JOIN invoices i ON m.source = 'invoice' AND i.invoice_id = m.source_id
JOIN (SELECT DISTINCT w.seller_uscc, f.uscc AS buyer_uscc  -- written registered USCCs: the shared fallback rule
      FROM invoices w JOIN {{ written_links }} f ON f.mention_id = 'invoice:' || w.invoice_id) k
  ON k.seller_uscc = i.seller_uscc
LEFT JOIN (SELECT DISTINCT uscc FROM enterprises) e ON e.uscc = m.given_uscc  -- no registered USCC written
WHERE e.uscc IS NULL
