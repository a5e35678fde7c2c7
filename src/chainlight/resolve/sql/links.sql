-- One link per mention: a written USCC found in the registry wins; else the name decided with the
-- mention's own evidence (an ambiguous invoice buyer among its seller's known partners); else the
-- resolved name; else unresolved. Ambiguous names keep their candidates and no USCC.
SELECT m.mention_id, m.source, m.source_id, m.name_as_written,
       CASE WHEN e.uscc IS NOT NULL THEN e.uscc ELSE coalesce(c.uscc, r.uscc) END AS uscc,
       CASE WHEN e.uscc IS NOT NULL THEN 1.0 WHEN c.uscc IS NOT NULL THEN c.score ELSE coalesce(r.score, 0.0) END AS score,
       CASE WHEN e.uscc IS NOT NULL THEN 'uscc' WHEN c.uscc IS NOT NULL THEN 'partner'
            ELSE coalesce(r.method, 'unresolved') END AS method,
       CASE WHEN e.uscc IS NOT NULL OR c.uscc IS NOT NULL THEN NULL ELSE r.candidates END AS candidates
FROM {{ mentions }} m
LEFT JOIN (SELECT DISTINCT uscc FROM enterprises) e ON e.uscc = m.given_uscc
LEFT JOIN {{ names }} r ON r.name = m.name_as_written
LEFT JOIN {{ context }} c ON c.mention_id = m.mention_id
