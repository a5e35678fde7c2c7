-- Segment trend judgments per publication year from cited statements. Each report has one vote per
-- segment (its statements share it), weighted by the reader's confidence and by recency (the weight
-- halves every $half_life days before the period's latest report); the direction with the most weight
-- wins, strength is its share of the weight, and any dissenting statement sets `disagreement`.
-- The growth figure is the weighted mean of the figures stated with the winning direction (signed %).
WITH s AS (
    SELECT *, CAST(year(published) AS VARCHAR) AS period FROM {{ statements }}
), weighted AS (
    SELECT *, confidence * power(0.5, date_diff('day', published,
                   max(published) OVER (PARTITION BY segment_id, period)) / $half_life)
              / count(*) OVER (PARTITION BY report_id, segment_id, period) AS weight
    FROM s
), votes AS (
    SELECT segment_id, period, direction, sum(weight) AS w FROM weighted GROUP BY ALL
), winner AS (
    SELECT segment_id, period, direction, w / sum(w) OVER (PARTITION BY segment_id, period) AS strength,
           count(*) OVER (PARTITION BY segment_id, period) > 1 AS disagreement
    FROM votes
    QUALIFY row_number() OVER (PARTITION BY segment_id, period
                               ORDER BY w DESC, CASE direction WHEN 'flat' THEN 0 WHEN 'up' THEN 1 ELSE 2 END) = 1
)
SELECT w.segment_id, split_part(w.segment_id, '.', 1) AS chain_id, w.period, w.direction,
       round(w.strength, 4) AS strength,
       round(sum(x.weight * CASE x.direction WHEN 'down' THEN -abs(x.value) WHEN 'up' THEN abs(x.value) ELSE x.value END)
                 FILTER (WHERE x.direction = w.direction AND x.value IS NOT NULL)
             / sum(x.weight) FILTER (WHERE x.direction = w.direction AND x.value IS NOT NULL), 2) AS growth_pct,
       count(DISTINCT x.report_id) AS reports, count(*) AS statements, w.disagreement,
       list(struct_pack(report_id := x.report_id, start := x.start, "end" := x."end", span_text := x.span_text,
                        direction := x.direction, weight := round(x.weight, 4), method := x.method)
            ORDER BY x.weight DESC, x.report_id, x.start) AS citations
FROM winner w JOIN weighted x USING (segment_id, period)
GROUP BY w.segment_id, w.period, w.direction, w.strength, w.disagreement
ORDER BY w.segment_id, w.period
