"""Per-column value checks, generated as SQL from the table registry (one pass over the staged rows).

Each check kind yields a cleaned-value expression and a list of (failure condition, reason) pairs over
the raw text ``r``. The first failing condition of a row names its field and reason; the row is
quarantined. Generated SQL uses only the engine's Dialect, so Spark can run it too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chainlight import uscc
from chainlight.config import IngestSettings
from chainlight.engine import Dialect
from chainlight.tables import Column, TableSpec

TRUE_WORDS = ("true", "t", "1", "yes", "y", "是")
FALSE_WORDS = ("false", "f", "0", "no", "n", "否")
INVOICE_STATUS = {"normal": "normal", "正常": "normal", "voided": "voided", "void": "voided", "作废": "voided",
                  "red": "red", "红冲": "red", "红字": "red"}
ALIAS_KIND = {"short": "short", "简称": "short", "former": "former", "曾用名": "former", "other": "other", "其他": "other"}


@dataclass(frozen=True)
class CheckSQL:
    value: str  # cleaned, typed value
    failures: list[tuple[str, str]]  # (SQL condition that is true when the value is bad, reason)


def _words(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _mapping(expr: str, mapping: dict[str, str]) -> str:
    cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping.items())
    return f"(CASE lower({expr}) {cases} END)"


def _uscc_checksum_ok(v: str) -> str:
    """GB 32100 check character in plain SQL (17 weighted terms), portable across engines."""
    alphabet = uscc.ALPHABET
    weights = [pow(3, i, 31) for i in range(17)]
    total = " + ".join(f"(instr('{alphabet}', substr({v}, {i + 1}, 1)) - 1) * {w}" for i, w in enumerate(weights))
    return f"substr('{alphabet}', ((31 - ({total}) % 31) % 31) + 1, 1) = substr({v}, 18, 1)"


def _date_range(d: str, name: str, settings: IngestSettings) -> list[tuple[str, str]]:
    return [(f"{d} < DATE '{settings.min_year:04d}-01-01'", f"{name} before {settings.min_year}"),
            (f"{d} > current_date + {settings.max_future_days}", f"{name} is in the future")]


def column_check(col: Column, dialect: Dialect, settings: IngestSettings) -> CheckSQL:
    r = f't."{col.name}"'
    t = f"nullif(trim({r}), '')"  # empty text counts as missing
    builders: dict[str, Callable[[], CheckSQL]] = {
        "text": lambda: CheckSQL(t, []),
        "uscc": lambda: CheckSQL(f"upper({t})", [
            (f"length(upper({t})) <> 18", "USCC must have 18 characters"),
            (f"NOT {dialect.regexp_full_match(f'upper({t})', '[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}')}",
             "USCC has characters outside GB 32100"),
            (f"NOT ({_uscc_checksum_ok(f'upper({t})')})", "USCC checksum mismatch")]),
        "industry_code": lambda: CheckSQL(f"upper({t})", [
            (f"NOT {dialect.regexp_full_match(f'upper({t})', '[A-T]?[0-9]{2,4}')}",
             "industry_code is not a GB/T 4754 code")]),
        "tax_code": lambda: CheckSQL(t, [
            (f"NOT {dialect.regexp_full_match(t, '[0-9]{1,19}')}", "tax_code must be up to 19 digits")]),
        "ipc": lambda: CheckSQL(f"upper({t})", [
            (f"NOT {dialect.regexp_full_match(f'upper({t})', '[A-H][0-9]{2}[A-Z].*')}", "ipc is not an IPC code")]),
        "date": lambda: CheckSQL(dialect.try_date(t), [
            (f"{dialect.try_date(t)} IS NULL", f"{col.name} is not a valid date (YYYY-MM-DD)"),
            *_date_range(dialect.try_date(t), col.name, settings)]),
        "timestamp": lambda: CheckSQL(dialect.try_timestamp(t), [
            (f"{dialect.try_timestamp(t)} IS NULL", f"{col.name} is not a valid timestamp"),
            *_date_range(f"CAST({dialect.try_timestamp(t)} AS DATE)", col.name, settings)]),
        "money": lambda: _number(t, col.name, dialect, allow_negative=True),
        "money_nonneg": lambda: _number(t, col.name, dialect, allow_negative=False),
        "money_positive": lambda: _number(t, col.name, dialect, allow_negative=False, positive=True),
        "count": lambda: _count(t, col.name, dialect),
        "bool": lambda: CheckSQL(
            f"(CASE WHEN lower({t}) IN ({_words(TRUE_WORDS)}) THEN TRUE "
            f"WHEN lower({t}) IN ({_words(FALSE_WORDS)}) THEN FALSE END)",
            [(f"lower({t}) NOT IN ({_words([*TRUE_WORDS, *FALSE_WORDS])})", f"{col.name} is not a boolean")]),
        "invoice_status": lambda: CheckSQL(_mapping(t, INVOICE_STATUS), [
            (f"{_mapping(t, INVOICE_STATUS)} IS NULL", "status must be normal, voided or red")]),
        "alias_kind": lambda: CheckSQL(_mapping(t, ALIAS_KIND), [
            (f"{_mapping(t, ALIAS_KIND)} IS NULL", "kind must be short, former or other")]),
    }
    check = builders[col.check]()
    # A missing value is either allowed (NULL) or the only failure reported for the field.
    missing = (f"{t} IS NULL", f"{col.name} is required")
    guarded = [(f"{t} IS NOT NULL AND ({cond})", reason) for cond, reason in check.failures]
    return CheckSQL(check.value, guarded if col.nullable else [missing, *guarded])


def _number(t: str, name: str, dialect: Dialect, *, allow_negative: bool, positive: bool = False) -> CheckSQL:
    cleaned = f"replace(replace(replace({t}, ',', ''), '¥', ''), '￥', '')"
    value = dialect.try_double(cleaned)
    failures = [(f"{value} IS NULL", f"{name} is not a number"),
                (f"isnan({value}) OR isinf({value})", f"{name} is not a finite number")]
    if not allow_negative:
        failures.append((f"{value} < 0", f"{name} is negative"))
    if positive:
        failures.append((f"{value} = 0", f"{name} must be positive"))
    return CheckSQL(f"round({value}, 2)", failures)


def _count(t: str, name: str, dialect: Dialect) -> CheckSQL:
    value = dialect.try_double(t)
    return CheckSQL(f"CAST({value} AS BIGINT)", [
        (f"{value} IS NULL", f"{name} is not a number"),
        (f"{value} < 0 OR {value} <> floor({value})", f"{name} must be a whole number ≥ 0")])


def row_rules(spec: TableSpec, values: dict[str, str]) -> list[tuple[str, str, str]]:
    """Checks across fields of one row: (field, SQL failure condition over cleaned values, reason)."""
    if spec.name == "invoices":
        return [("amount", f"{values['amount']} < 0 AND {values['status']} <> 'red'",
                 "negative amount is only allowed on a red-letter invoice")]
    if spec.name == "patents":
        return [("grant_date", f"{values['grant_date']} < {values['apply_date']}", "grant_date before apply_date")]
    return []


def validation_select(spec: TableSpec, dialect: Dialect, settings: IngestSettings) -> str:
    """SELECT over the staged table giving the cleaned columns, ``_field`` and ``_reason``."""
    checks = {c.name: column_check(c, dialect, settings) for c in spec.columns}
    values = {name: f"({check.value})" for name, check in checks.items()}
    whens = [(name, cond, reason) for name, check in checks.items() for cond, reason in check.failures]
    for field, cond, reason in row_rules(spec, values):
        whens.append((field, f"coalesce({cond}, FALSE)", reason))

    def case(pick: int) -> str:
        arms = " ".join(f"WHEN {cond} THEN '{(name if pick == 0 else reason).replace(chr(39), chr(39) * 2)}'"
                        for name, cond, reason in whens)
        return f"CASE {arms} END"

    cleaned = ", ".join(f'{values[c.name]} AS "{c.name}"' for c in spec.columns)
    return f"SELECT t._ord, t._row, {cleaned}, {case(0)} AS _field, {case(1)} AS _reason FROM _ingest_raw t"
