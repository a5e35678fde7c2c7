-- Robust centre and spread of one indicator over all firms that have it (median, 1.4826·MAD,
-- with the standard deviation where most firms share one value and the MAD is 0). The MAD is spelled
-- out (the median of the distances to the median): Spark has no mad().
WITH c AS (SELECT median({{ column }}) AS center FROM {{ table }})
SELECT c.center, 1.4826 * median(abs(t.{{ column }} - c.center)) AS mad, stddev_pop(t.{{ column }}) AS sd,
       count(t.{{ column }}) AS n
FROM {{ table }} t CROSS JOIN c
GROUP BY c.center
