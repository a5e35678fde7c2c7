-- What counts as a sale: normal invoices, and red-letter reversals (negative amounts) that net
-- against them; voided invoices are not sales. Every stage that sums sales reads this view.
-- ``amount_fen`` is the amount in integer fen: sum it, not the DOUBLE yuan, so that sums are exact and
-- the same whatever order parallel threads add them in (derived tables are bit-identical across runs).
SELECT *, CAST(round(amount * 100) AS BIGINT) AS amount_fen
FROM invoices
WHERE status IN ('normal', 'red')
