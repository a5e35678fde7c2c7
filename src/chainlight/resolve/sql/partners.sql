-- Invoice buyer mentions whose name alone is ambiguous, with each registered buyer USCC the same seller
-- writes on its other invoices (its known partners).
SELECT m.mention_id, m.name_as_written AS name, k.buyer_uscc AS partner
FROM _resolve_mentions m
JOIN _resolve_names r ON r.name = m.name_as_written AND r.method = 'ambiguous'
JOIN invoices i ON m.source = 'invoice' AND i.invoice_id = m.source_id
JOIN (SELECT DISTINCT w.seller_uscc, f.uscc AS buyer_uscc  -- written registered USCCs: the shared fallback rule
      FROM invoices w JOIN {{ written_links }} f ON f.mention_id = 'invoice:' || w.invoice_id) k
  ON k.seller_uscc = i.seller_uscc
LEFT JOIN (SELECT DISTINCT uscc FROM enterprises) e ON e.uscc = m.given_uscc  -- no registered USCC written
WHERE e.uscc IS NULL
