-- What each firm sells, by line item (``sales``: the shared rule of what counts as a sale).
SELECT seller_uscc AS uscc, item_name, coalesce(tax_code, '') AS tax_code,
       sum(amount) AS amount, count(*) AS invoices, max(invoice_id) AS example_invoice
FROM {{ sales }}
GROUP BY 1, 2, 3
HAVING sum(amount) > 0
