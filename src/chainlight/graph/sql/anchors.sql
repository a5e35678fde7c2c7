-- Anchor enterprises (核心企业): the configured list, plus per chain the candidates (``sizes``) whose core score
-- stands out: (size − the chain's median) / spread ≥ z, spread = max(1.4826 × the median absolute
-- deviation, $min_spread), z from ``bar`` (Φ⁻¹(1 − false rate / n), computed per chain in Python) — and
-- that hold, per supplier, at least $hold_ratio × the chain's median hold of the candidates with suppliers
-- (their suppliers depend on them more, for longer, than on a typical buyer of the tier), unless the score
-- alone clears $size_only × z. A candidate with no suppliers in the data (chemicals' top tier buys nothing
-- inside the economy) is judged on its score alone. The highest-scoring candidate of each chain always is
-- an anchor (ties by uscc), and at most $top_k are.
WITH centre AS (
    SELECT chain_id, median(size) AS centre, median(hold) AS hold_centre FROM {{ sizes }} GROUP BY chain_id
), spread AS (
    SELECT s.chain_id, c.centre, c.hold_centre,
           greatest(1.4826 * median(abs(s.size - c.centre)), $min_spread) AS spread
    FROM {{ sizes }} s JOIN centre c ON c.chain_id = s.chain_id
    GROUP BY s.chain_id, c.centre, c.hold_centre
), ranked AS (
    SELECT s.uscc, (s.size - d.centre) / d.spread AS score, z.z,
           s.hold IS NULL OR d.hold_centre IS NULL OR s.hold >= $hold_ratio * d.hold_centre AS holds,
           row_number() OVER (PARTITION BY s.chain_id ORDER BY s.size DESC, s.uscc) AS pos
    FROM {{ sizes }} s
    JOIN spread d ON d.chain_id = s.chain_id
    JOIN {{ bar }} z ON z.chain_id = s.chain_id
)
SELECT uscc FROM {{ anchor_list }} WHERE uscc IN (SELECT uscc FROM {{ base }})
UNION
SELECT uscc FROM ranked WHERE pos <= $top_k AND (pos = 1 OR (score >= z AND (holds OR score >= $size_only * z)))
