-- The offline reader's trend statements: extract's verified trend facts from reports, with the
-- report's publication date (for recency). Report text is read only through these cited spans.
SELECT f.source_id AS report_id, f.segment_id, f.direction, f.value, f.start, f."end", f.span_text,
       f.confidence, f.method, r.published
FROM facts f JOIN reports r ON r.report_id = f.source_id
WHERE f.kind = 'trend' AND f.source = 'report' AND f.segment_id IS NOT NULL AND f.direction IS NOT NULL
