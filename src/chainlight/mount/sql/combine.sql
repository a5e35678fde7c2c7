-- Weighted evidence → shares per firm and segment. Each signal is first normalised within the firm,
-- so a signal's weight is its say, not its volume; ``signal_say`` scales a signal's say per firm by the
-- mass of evidence behind it (absent = full say).
-- Everything summed is first fixed to DECIMAL(38, 12): a DOUBLE sum depends on the order threads add
-- rows in, a DECIMAL sum does not, so mounts are bit-identical across reruns and thread counts.
WITH signals AS (
    SELECT uscc, segment_id, signal, CAST(weight AS DECIMAL(38, 12)) AS weight FROM {{ signals }}
), weights AS (
    SELECT signal, CAST(signal_weight AS DECIMAL(38, 12)) AS signal_weight FROM {{ signal_weights }}
), per_signal AS (
    SELECT uscc, segment_id, signal, weight / sum(weight) OVER (PARTITION BY uscc, signal) AS part
    FROM signals WHERE weight > 0
), scored AS (
    SELECT p.uscc, p.segment_id,
           sum(CASE WHEN m.say IS NULL THEN CAST(p.part * w.signal_weight AS DECIMAL(38, 12))
                    ELSE CAST(p.part * w.signal_weight * m.say AS DECIMAL(38, 12)) END) AS score
    FROM per_signal p JOIN weights w USING (signal) LEFT JOIN {{ signal_say }} m USING (uscc, signal)
    GROUP BY 1, 2
), coverage AS (
    SELECT uscc, sum(w.signal_weight) / (SELECT sum(signal_weight) FROM weights) AS coverage
    FROM (SELECT DISTINCT uscc, signal FROM per_signal) s JOIN weights w USING (signal)
    GROUP BY 1
), ranked AS (
    SELECT uscc, segment_id, score, score / sum(score) OVER (PARTITION BY uscc) AS share,
           row_number() OVER (PARTITION BY uscc ORDER BY score DESC, segment_id) AS rank
    FROM scored
), kept AS (
    SELECT * FROM ranked WHERE rank = 1 OR (rank <= 3 AND share >= $min_share)
)
SELECT k.uscc, k.segment_id, s.chain_id, s.tier,
       CAST(k.score / sum(k.score) OVER (PARTITION BY k.uscc) AS DOUBLE) AS share,
       CAST(k.share * sqrt(c.coverage) AS DOUBLE) AS confidence, k.rank
FROM kept k JOIN coverage c USING (uscc) JOIN {{ segments }} s USING (segment_id)
