-- Who each firm sells to (resolved buyers), by amount (summed in integer fen: exact in any order).
SELECT i.seller_uscc AS uscc, l.uscc AS buyer, CAST(sum(i.amount_fen) AS DOUBLE) / 100 AS amount
FROM {{ sales }} i
JOIN {{ links }} l ON l.mention_id = 'invoice:' || i.invoice_id
WHERE l.uscc IS NOT NULL AND l.uscc <> i.seller_uscc
GROUP BY 1, 2
HAVING sum(i.amount_fen) > 0
