-- What counts as a sale: normal invoices, and red-letter reversals (negative amounts) that net
-- against them; voided invoices are not sales. Every stage that sums sales reads this view.
SELECT * FROM invoices WHERE status IN ('normal', 'red')
