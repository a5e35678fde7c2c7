-- Robust centre and spread of one indicator over all firms that have it (median, 1.4826·MAD,
-- with the standard deviation where most firms share one value and the MAD is 0).
SELECT median({{ column }}) AS center, 1.4826 * mad({{ column }}) AS mad, stddev_pop({{ column }}) AS sd,
       count({{ column }}) AS n
FROM {{ table }}
