-- What each firm sells: normal invoices by line item; red-letter reversals (negative) net out,
-- voided invoices are ignored.
SELECT seller_uscc AS uscc, item_name, coalesce(tax_code, '') AS tax_code,
       sum(amount) AS amount, count(*) AS invoices, max(invoice_id) AS example_invoice
FROM invoices
WHERE status IN ('normal', 'red')
GROUP BY 1, 2, 3
HAVING sum(amount) > 0
