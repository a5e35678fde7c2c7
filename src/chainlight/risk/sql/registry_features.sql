-- What a traditional lender sees on as_of: the registry entry and the bureau record (the bureau is a
-- single snapshot in the data contract, so it is used as given).
SELECT o.uscc, o.as_of,
       round(date_diff('day', e.founded, o.as_of) / 365.25, 3) AS age_years,
       e.registered_capital,
       coalesce(left(e.industry_code, 2), 'unknown') AS industry_division,
       coalesce(e.province, 'unknown') AS province,
       CAST(coalesce(e.high_tech, false) AS INTEGER) AS high_tech,
       coalesce(b.max_overdue_days, 0) AS max_overdue_days,
       coalesce(b.open_litigations, 0) AS open_litigations,
       CAST(coalesce(b.tax_arrears, false) AS INTEGER) AS tax_arrears,
       CAST(coalesce(b.blacklisted, false) AS INTEGER) AS blacklisted,
       -- rare flags are too thin to bin alone; their count is not
       CAST(coalesce(b.tax_arrears, false) AS INTEGER) + CAST(coalesce(b.blacklisted, false) AS INTEGER)
           + CAST(coalesce(b.open_litigations, 0) > 0 AS INTEGER) + CAST(coalesce(b.max_overdue_days, 0) > 0 AS INTEGER)
           AS bureau_flags
FROM (SELECT DISTINCT uscc, as_of FROM {{ obs }}) o JOIN enterprises e USING (uscc)
LEFT JOIN {{ bureau }} b USING (uscc)
