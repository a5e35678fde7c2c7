-- The segment a report is about, read from the firms it names: the main segments of the sellers in its
-- supply claims count double (a report on a segment names that segment's suppliers), every other
-- resolved firm it names once; the heaviest segment wins, and only outright: a tie leaves the report
-- unplaced rather than guessed. For reports that name their segment in words the ontology does not know.
WITH named AS (
    SELECT f.source_id AS report_id, m.segment_id, 2 AS w
    FROM {{ facts }} f JOIN {{ main_segments }} m ON m.uscc = f.subject_uscc
    WHERE f.kind = 'supply_claim' AND f.source = 'report'
    UNION ALL
    SELECT l.source_id, m.segment_id, 1
    FROM {{ links }} l JOIN {{ main_segments }} m ON m.uscc = l.uscc
    WHERE l.source = 'report'
), weighed AS (
    SELECT report_id, segment_id, sum(w) AS w,
           row_number() OVER (PARTITION BY report_id ORDER BY sum(w) DESC, segment_id) AS place,
           lead(sum(w)) OVER (PARTITION BY report_id ORDER BY sum(w) DESC, segment_id) AS runner_up
    FROM named GROUP BY report_id, segment_id
)
SELECT report_id, segment_id FROM weighed WHERE place = 1 AND w > coalesce(runner_up, 0)
