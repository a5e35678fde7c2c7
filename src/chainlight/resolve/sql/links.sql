-- One link per mention: a written USCC found in the registry wins; else the resolved name; else unresolved.
SELECT m.mention_id, m.source, m.source_id, m.name_as_written,
       CASE WHEN e.uscc IS NOT NULL THEN e.uscc ELSE r.uscc END AS uscc,
       CASE WHEN e.uscc IS NOT NULL THEN 1.0 ELSE coalesce(r.score, 0.0) END AS score,
       CASE WHEN e.uscc IS NOT NULL THEN 'uscc' ELSE coalesce(r.method, 'unresolved') END AS method,
       CASE WHEN e.uscc IS NOT NULL THEN NULL ELSE r.candidates END AS candidates
FROM {{ mentions }} m
LEFT JOIN (SELECT DISTINCT uscc FROM enterprises) e ON e.uscc = m.given_uscc
LEFT JOIN {{ names }} r ON r.name = m.name_as_written
