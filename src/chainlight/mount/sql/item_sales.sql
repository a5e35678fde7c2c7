-- What each firm sells, by line item (``sales``: the shared rule of what counts as a sale), summed in
-- integer fen so that the sum is exact in any thread order.
SELECT seller_uscc AS uscc, item_name, coalesce(tax_code, '') AS tax_code,
       CAST(sum(amount_fen) AS DOUBLE) / 100 AS amount, count(*) AS invoices, max(invoice_id) AS example_invoice
FROM {{ sales }}
GROUP BY 1, 2, 3
HAVING sum(amount_fen) > 0
