-- Robust centre and spread of every indicator over all firms that have it (median, 1.4826·MAD, with the
-- standard deviation where most firms share one value and the MAD is 0), in one query over the indicators
-- as long rows (indicator, value): one job for all of them, not two per indicator. The MAD is spelled out
-- (the median of the distances to the median): Spark has no mad().
WITH c AS (SELECT indicator, median(value) AS center FROM {{ long }} GROUP BY indicator)
SELECT l.indicator, c.center, 1.4826 * median(abs(l.value - c.center)) AS mad, stddev_pop(l.value) AS sd,
       count(l.value) AS n
FROM {{ long }} l JOIN c ON c.indicator = l.indicator
GROUP BY l.indicator, c.center
