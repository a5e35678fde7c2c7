-- Resolution per blocking key: per group of names (bucket), the registry entries their lookups reach, the whole
-- registry's size of each key they read a size of, and the questions (a name, with a seller and one of its known
-- partners when asked with that context), as one table whose groups a block function reads whole
-- (blocks.resolve_group, blocks.partner_blocked_group). No worker holds more of the registry than its group reaches.
WITH asked AS (
    SELECT a.name, a.bucket, a.key, a.role, a.cap, a.text, a.signature, a.needed, s.n
    FROM _resolve_asks a JOIN _resolve_key_sizes s ON s.key = a.key
),
rarest AS (  -- per abbreviation text, its rarest character pair (any would find the same entries; the rarest, fewest)
    SELECT name, bucket, key, signature FROM (
        SELECT name, bucket, key, signature, needed,
               row_number() OVER (PARTITION BY name, text ORDER BY n, key) AS pick,
               count(*) OVER (PARTITION BY name, text) AS present
        FROM asked WHERE role = 'pair') AS per_pair
    WHERE pick = 1 AND present = needed  -- a pair no registry name holds: no entry holds the text in order
),
reached AS (  -- per group, each key once (its names share most keys: they are grouped by core head)
    SELECT g.bucket, k.entry_id, CASE WHEN g.key LIKE 'block:%' THEN 1 ELSE 0 END AS via_block
    FROM (SELECT DISTINCT bucket, key, signature FROM asked WHERE role = 'fetch' OR (role = 'capped' AND n <= cap)) g
    JOIN _resolve_keys k ON k.key = g.key AND (k.signature & g.signature) = g.signature  -- 0: every entry
    UNION ALL  -- entries holding the rarest pair and every character of the text (signature); the group checks the order
    SELECT r.bucket, k.entry_id, 0 FROM (SELECT DISTINCT bucket, key, signature FROM rarest) r
    JOIN _resolve_keys k ON k.key = r.key AND (k.signature & r.signature) = r.signature
),
per_entry AS (  -- reached only through fuzzy blocks: the group indexes it under its blocks alone (matcher.BLOCKS_ONLY)
    SELECT bucket, entry_id, min(via_block) = 1 AS blocks_only FROM reached GROUP BY bucket, entry_id
)
SELECT r.bucket, 'entry' AS row_kind, e.uscc AS a, e.name AS b, e.kind AS c, CAST(NULL AS BIGINT) AS n,
       e.regions, e.core, e.legal_form, e.branch,  -- each name's parts, normalised once (blocks.registry_entries_batch)
       r.blocks_only
FROM per_entry r JOIN _resolve_entries e ON e.entry_id = r.entry_id
UNION ALL
SELECT DISTINCT bucket, 'size', key, CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), n, CAST(NULL AS VARCHAR),
       CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS BOOLEAN), CAST(NULL AS BOOLEAN)
FROM asked WHERE role IN ('capped', 'count')
UNION ALL
SELECT DISTINCT a.bucket, 'name', q.name, q.seller_uscc, q.partner, CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR),
       CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS BOOLEAN), CAST(NULL AS BOOLEAN)
FROM _resolve_asks a JOIN {{ questions }} q ON q.name = a.name
WHERE a.role = 'name'
