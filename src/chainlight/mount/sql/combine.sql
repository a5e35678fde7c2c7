-- Weighted evidence → shares per firm and segment. Each signal is first normalised within the firm,
-- so a signal's weight is its say, not its volume.
WITH per_signal AS (
    SELECT uscc, segment_id, signal, weight / sum(weight) OVER (PARTITION BY uscc, signal) AS part
    FROM {{ signals }} WHERE weight > 0
), scored AS (
    SELECT p.uscc, p.segment_id, sum(p.part * w.signal_weight) AS score
    FROM per_signal p JOIN {{ signal_weights }} w USING (signal)
    GROUP BY 1, 2
), coverage AS (
    SELECT uscc, sum(w.signal_weight) / (SELECT sum(signal_weight) FROM {{ signal_weights }}) AS coverage
    FROM (SELECT DISTINCT uscc, signal FROM per_signal) s JOIN {{ signal_weights }} w USING (signal)
    GROUP BY 1
), ranked AS (
    SELECT uscc, segment_id, score / sum(score) OVER (PARTITION BY uscc) AS share,
           row_number() OVER (PARTITION BY uscc ORDER BY score DESC, segment_id) AS rank
    FROM scored
), kept AS (
    SELECT * FROM ranked WHERE rank = 1 OR (rank <= 3 AND share >= $min_share)
)
SELECT k.uscc, k.segment_id, s.chain_id, s.tier,
       k.share / sum(k.share) OVER (PARTITION BY k.uscc) AS share,
       k.share * sqrt(c.coverage) AS confidence, k.rank
FROM kept k JOIN coverage c USING (uscc) JOIN {{ segments }} s USING (segment_id)
