-- Where registry text forms occur in each report, found per key instead of with a scan of the whole registry's
-- gazetteer: each window of a report's text joined with the forms that start with it, kept where the text goes on
-- as the form does. Every report comes with its text, and with a null start when no form occurs in it (its
-- unknown legal-form names are still found: blocks.report_mentions_group).
SELECT r.report_id, r.text, h.start, h.length
FROM reports r
LEFT JOIN (
    SELECT DISTINCT w.report_id, w.start, length(f.form) AS length
    FROM _resolve_report_windows w
    JOIN _resolve_forms f ON f.head = w.window
    JOIN reports t ON t.report_id = w.report_id
    WHERE substr(t.text, w.start + 1, length(f.form)) = f.form
) h ON h.report_id = r.report_id
