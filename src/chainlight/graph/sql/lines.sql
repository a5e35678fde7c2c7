-- Each sale (the shared sales rule) with its resolved buyer, self-sales dropped: what the supply edges sum.
SELECT i.seller_uscc AS seller, l.uscc AS buyer, i.amount_fen, i.issue_date,
       date_trunc('month', i.issue_date) AS month
FROM {{ sales }} i JOIN {{ links }} l ON l.mention_id = 'invoice:' || i.invoice_id
WHERE l.uscc IS NOT NULL AND l.uscc <> i.seller_uscc
