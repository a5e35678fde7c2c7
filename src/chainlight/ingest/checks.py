"""Per-column value checks, generated as SQL from the table registry: one pass over the raw rows.

The generated query has three layers: (1) raw text trimmed, empty → NULL; (2) each column's cleaned,
typed value computed once beside its text; (3) the first failing condition of a row as
``field|reason`` and, for failing rows only, the raw record as JSON. Conditions are written over
``{t}`` (the trimmed text) and ``{v}`` (the cleaned value). Generated SQL uses only the engine's
Dialect, so the Spark engine runs the same checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chainlight.config import IngestSettings
from chainlight.engine import Dialect
from chainlight.engine.base import quote_identifier as _q
from chainlight.engine.base import sql_literal, sql_literals
from chainlight.tables import Column, TableSpec

TRUE_WORDS = ("true", "t", "1", "yes", "y", "是")
FALSE_WORDS = ("false", "f", "0", "no", "n", "否")
INVOICE_STATUS = {"normal": "normal", "正常": "normal", "voided": "voided", "void": "voided", "作废": "voided",
                  "red": "red", "红冲": "red", "红字": "red"}
ALIAS_KIND = {"short": "short", "简称": "short", "former": "former", "曾用名": "former", "other": "other", "其他": "other"}
USCC_PATTERN = "[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}"
# Money as people write it: an optional sign and currency sign, digits with commas between groups of three.
MONEY_PATTERN = "[-+]?[¥￥]?[-+]?([0-9]{1,3}(,[0-9]{3})+|[0-9]+)(\\.[0-9]+)?"


@dataclass(frozen=True)
class CheckSQL:
    value: str  # cleaned, typed value over {t}
    failures: list[tuple[str, str]]  # (SQL condition over {t} and {v}, true when bad; reason)
    per_distinct: bool = False  # failures are tested once per distinct value, after the row pass


def _mapping(mapping: dict[str, str]) -> str:
    cases = " ".join(f"WHEN {sql_literal(k)} THEN {sql_literal(v)}" for k, v in mapping.items())
    return f"(CASE lower({{t}}) {cases} END)"


def _date_range(d: str, name: str, settings: IngestSettings) -> list[tuple[str, str]]:
    return [(f"{d} < DATE '{settings.min_year:04d}-01-01'", f"{name} before {settings.min_year}"),
            (f"{d} > current_date + {settings.max_future_days}", f"{name} is in the future")]


def _number(name: str, dialect: Dialect, *, allow_negative: bool, positive: bool = False) -> CheckSQL:
    # Plain numbers take the fast cast; only the rest pay for stripping separators and currency signs.
    # A comma is a thousands separator only between groups of three digits: "12,34" and "1.234,50" are
    # not numbers (they would load as 1234 and 1.23), they are quarantined.
    stripped = dialect.try_double("replace(replace(replace({t}, ',', ''), '¥', ''), '￥', '')")
    value = (f"coalesce({dialect.try_double('{t}')}, "
             f"CASE WHEN {dialect.regexp_full_match('{t}', MONEY_PATTERN)} THEN {stripped} END)")
    failures = [("{v} IS NULL", f"{name} is not a number"),
                ("isnan({v}) OR isinf({v})", f"{name} is not a finite number")]
    if not allow_negative:
        failures.append(("{v} < 0", f"{name} is negative"))
    if positive:
        failures.append(("{v} = 0", f"{name} must be positive"))
    return CheckSQL(f"round({value}, 2)", failures)


def _count(name: str, dialect: Dialect) -> CheckSQL:
    return CheckSQL(dialect.try_double("{t}"), [
        ("{v} IS NULL", f"{name} is not a number"),
        ("{v} < 0 OR {v} <> floor({v})", f"{name} must be a whole number ≥ 0")])


def column_check(col: Column, dialect: Dialect, settings: IngestSettings) -> CheckSQL:
    builders: dict[str, Callable[[], CheckSQL]] = {
        "text": lambda: CheckSQL("{t}", []),
        # Codes repeat across rows (a seller on every invoice it issues): test each distinct code once.
        "uscc": lambda: CheckSQL("upper({t})", [
            ("length({v}) <> 18", "USCC must have 18 characters"),
            (f"NOT {dialect.uscc_checksum_ok('{v}')} AND NOT {dialect.regexp_full_match('{v}', USCC_PATTERN)}",
             "USCC has characters outside GB 32100 or a non-numeric division code"),
            (f"NOT {dialect.uscc_checksum_ok('{v}')}", "USCC checksum mismatch")], per_distinct=True),
        "industry_code": lambda: CheckSQL("upper({t})", [
            (f"NOT {dialect.regexp_full_match('{v}', '[A-T]?[0-9]{2,4}')}", "industry_code is not a GB/T 4754 code")]),
        "tax_code": lambda: CheckSQL("{t}", [
            ("length({v}) > 19 OR translate({v}, '0123456789', '') <> ''", "tax_code must be up to 19 digits")]),
        "ipc": lambda: CheckSQL("upper({t})", [
            (f"NOT {dialect.regexp_full_match('{v}', '[A-H][0-9]{2}[A-Z].*')}", "ipc is not an IPC code")]),
        "date": lambda: CheckSQL(dialect.try_date("{t}"), [
            ("{v} IS NULL", f"{col.name} is not a valid date (YYYY-MM-DD)"), *_date_range("{v}", col.name, settings)]),
        "timestamp": lambda: CheckSQL(dialect.try_timestamp("{t}"), [
            ("{v} IS NULL", f"{col.name} is not a valid timestamp"),
            *_date_range("CAST({v} AS DATE)", col.name, settings)]),
        "money": lambda: _number(col.name, dialect, allow_negative=True),
        "money_nonneg": lambda: _number(col.name, dialect, allow_negative=False),
        "money_positive": lambda: _number(col.name, dialect, allow_negative=False, positive=True),
        "count": lambda: _count(col.name, dialect),
        "bool": lambda: CheckSQL(
            f"(CASE WHEN lower({{t}}) IN ({sql_literals(TRUE_WORDS)}) THEN TRUE "
            f"WHEN lower({{t}}) IN ({sql_literals(FALSE_WORDS)}) THEN FALSE END)",
            [("{v} IS NULL", f"{col.name} is not a boolean")]),
        "invoice_status": lambda: CheckSQL(_mapping(INVOICE_STATUS), [
            ("{v} IS NULL", "status must be normal, voided or red")]),
        "alias_kind": lambda: CheckSQL(_mapping(ALIAS_KIND), [("{v} IS NULL", "kind must be short, former or other")]),
    }
    return builders[col.check]()


def row_rules(spec: TableSpec) -> list[tuple[str, str, str]]:
    """Checks across fields of one row: (field, condition over cleaned ``{column}`` values, reason)."""
    if spec.name == "invoices":
        return [("amount", "{amount} < 0 AND {status} <> 'red'",
                 "negative amount is only allowed on a red-letter invoice")]
    if spec.name == "patents":
        return [("grant_date", "{grant_date} < {apply_date}", "grant_date before apply_date")]
    return []


def _fill(template: str, **names: str) -> str:
    """Put column references into a condition; plain replace, since regexes hold braces too."""
    for key, value in names.items():
        template = template.replace("{" + key + "}", value)
    return template


def validation_select(spec: TableSpec, source: str, raw_columns: list[str], dialect: Dialect,
                      settings: IngestSettings) -> str:
    """SELECT over ``source`` giving cleaned columns, ``_field``, ``_reason``, ``_record``.

    ``source`` names its text columns by position (``_c0``…, in the order of ``raw_columns``); every
    name inside the query is internal (``_c<i>`` text, ``_v<j>`` value, ``_problem``), so no input
    column (``v_status``, ``_problem``) can stand in for one. Input names appear only as JSON keys.
    """
    text_of = {name: f"_c{i}" for i, name in enumerate(raw_columns)}
    value_of = {c.name: f"_v{j}" for j, c in enumerate(spec.columns)}
    # Engines whose tables have no row order carry each row's position in the file through (Dialect).
    keep = f", {dialect.ordinal_column}" if dialect.ordinal_column else ""
    trimmed = ", ".join(f"nullif(trim({t}), '') AS {t}" for t in text_of.values()) + keep
    checks = {c.name: column_check(c, dialect, settings) for c in spec.columns}
    typed = ", ".join(f"{_fill(check.value, t=text_of[name])} AS {value_of[name]}" for name, check in checks.items())

    arms: list[tuple[str, str]] = []
    for col in spec.columns:
        text, value = text_of[col.name], value_of[col.name]
        if not col.nullable:
            arms.append((f"{text} IS NULL", f"{col.name}|{col.name} is required"))
        if checks[col.name].per_distinct:
            continue
        for cond, reason in checks[col.name].failures:
            arms.append((f"{text} IS NOT NULL AND ({_fill(cond, t=text, v=value)})", f"{col.name}|{reason}"))
    for field, cond, reason in row_rules(spec):
        filled = _fill(cond, **value_of)
        arms.append((f"coalesce({filled}, FALSE)", f"{field}|{reason}"))
    problem = "CASE " + " ".join(f"WHEN {c} THEN '{r.replace(chr(39), chr(39) * 2)}'" for c, r in arms) + " END"

    cleaned = ", ".join(f"{value_of[c.name]} AS {_q(c.name)}" for c in spec.columns)
    record = dialect.json_record([(name, f"l3.{t}") for name, t in text_of.items()])
    return f"""
        SELECT {cleaned},
               substr(_problem, 1, instr(_problem, '|') - 1) AS _field,
               substr(_problem, instr(_problem, '|') + 1) AS _reason,
               CASE WHEN _problem IS NOT NULL THEN {record} END AS _record{keep}
        FROM (SELECT l2.*, {problem} AS _problem
              FROM (SELECT l1.*, {typed} FROM (SELECT {trimmed} FROM {source}) l1) l2) l3"""


def stored_record(spec: TableSpec, table: str, dialect: Dialect) -> str:
    """The JSON record of a row of a file's stored table (its cleaned values), for later quarantining."""
    return dialect.json_record([(c, f"{table}.{_q(c)}") for c in spec.column_names])


def distinct_value_checks(spec: TableSpec, table: str, dialect: Dialect,
                          settings: IngestSettings) -> list[tuple[str, str, str]]:
    """Per column with per-distinct checks: its distinct values (to materialise as ``_ingest_values``),
    the bad ones among them with a reason (as ``_ingest_bad_values``), and the UPDATE quarantining the
    rows that hold them. Materialising the distinct values first keeps the check off the row path.

    Runs after the row pass, in column order, on rows that passed it; the record shown is the cleaned row.
    """
    steps = []
    record = stored_record(spec, table, dialect)
    for col in spec.columns:
        check = column_check(col, dialect, settings)
        if not check.per_distinct:
            continue
        arms = " ".join(f"WHEN {_fill(cond, v='v')} THEN '{reason}'" for cond, reason in check.failures)
        distinct = f"SELECT DISTINCT {_q(col.name)} AS v FROM {table} WHERE {_q(col.name)} IS NOT NULL"
        find = f"SELECT v, reason FROM (SELECT v, CASE {arms} END AS reason FROM _ingest_values) b " \
               "WHERE reason IS NOT NULL"
        update = f"""UPDATE {table} SET _field = '{col.name}', _reason = bad.reason, _record = {record}
                     FROM _ingest_bad_values bad
                     WHERE {table}.{_q(col.name)} = bad.v AND {table}._reason IS NULL"""
        steps.append((distinct, find, update))
    return steps
