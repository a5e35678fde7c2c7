-- Which enterprise a mention links to when the resolve stage has not run: the same rules resolve
-- applies first, without fuzzy matching. A written buyer USCC counts only if it is in the registry
-- (a valid-looking code of a firm we do not know links nowhere); a patent holder only by its exact,
-- unambiguous registered name.
SELECT 'invoice:' || i.invoice_id AS mention_id, i.buyer_uscc AS uscc
FROM invoices i
WHERE i.buyer_uscc IN (SELECT uscc FROM enterprises)
UNION ALL
SELECT 'patent:' || p.patent_id, e.uscc
FROM patents p
JOIN (SELECT name, min(uscc) AS uscc FROM enterprises GROUP BY name HAVING count(DISTINCT uscc) = 1) e
  ON e.name = p.holder_name
