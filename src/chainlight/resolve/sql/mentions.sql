-- Every name mention in the structured inputs, with the USCC written beside it when there is one.
SELECT 'invoice:' || invoice_id AS mention_id, 'invoice' AS source, invoice_id AS source_id,
       buyer_name AS name_as_written, buyer_uscc AS given_uscc
FROM invoices
UNION ALL
SELECT 'patent:' || patent_id, 'patent', patent_id, holder_name, CAST(NULL AS VARCHAR)
FROM patents
UNION ALL
SELECT 'product:' || uscc || ':' || product_name, 'product', uscc || ':' || product_name,
       CAST(NULL AS VARCHAR), uscc
FROM products
