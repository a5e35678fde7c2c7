"""The command line: a thin shell over the library (DESIGN.md's command contract).

Errors the library raises on purpose print as one ``error: …`` line with a non-zero exit; anything
unexpected prints one line too (``--debug`` shows the traceback). Progress appears only on a terminal
and never under ``--quiet``.
"""

from __future__ import annotations

import enum
import functools
import importlib
import importlib.util
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from chainlight import __version__, pipeline
from chainlight.config import Config, load_config
from chainlight.errors import ChainlightError, InputError, NotBuiltYet

app = typer.Typer(help="chainlight: industry-chain finance engine.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
audit_app = typer.Typer(help="Audit log commands.", no_args_is_help=True)
ontology_app = typer.Typer(help="Chain ontology commands.", no_args_is_help=True)
scorecard_app = typer.Typer(help="A credit scorecard on any labelled CSV table.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(ontology_app, name="ontology")
app.add_typer(scorecard_app, name="scorecard")
keys_app = typer.Typer(help="API keys for the HTTP service (printed once, stored hashed).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

console = Console()
F = TypeVar("F", bound=Callable[..., Any])


class State:
    quiet = False
    debug = False
    config_path: Path | None = None


def _config(**overrides: Any) -> Config:
    return load_config(State.config_path, overrides)


def _interactive() -> bool:
    return not State.quiet and sys.stdout.isatty()


def say(message: str) -> None:
    if not State.quiet:
        console.print(message)


@contextmanager
def progress_task(description: str) -> Iterator[Callable[[str, float | None], None]]:
    """Yields ``update(text, fraction)``; a live bar on a terminal, silence otherwise."""
    if not _interactive():
        def quiet(text: str, fraction: float | None = None) -> None:
            return None
        yield quiet
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(description, total=1.0)

        def update(text: str, fraction: float | None = None) -> None:
            bar.update(task, description=f"{description}: {text}",
                       completed=fraction if fraction is not None else bar.tasks[0].completed)
        yield update


def handles_errors(func: F) -> F:
    """One line on stderr and a non-zero exit instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except ChainlightError as exc:
            if State.debug:
                raise
            _error(str(exc))
            raise typer.Exit(2 if isinstance(exc, NotBuiltYet) else 1) from None
        except KeyboardInterrupt:
            _error("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:  # an unexpected failure still gets one line
            if State.debug:
                raise
            _error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _one_line(text: str) -> str:
    return " ".join(text.split())[:2000]


def _error(message: str) -> None:
    typer.echo(f"error: {_one_line(message)}", err=True)


def _print_version(value: bool) -> None:
    """Eager, so ``chainlight --version`` needs no command."""
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def main(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summaries, only results and errors.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Log SQL and show tracebacks.")] = False,
    config: Annotated[Path | None, typer.Option("--config", help="YAML config file (see README: settings).")] = None,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True,
                                          callback=_print_version)] = False,
) -> None:
    """chainlight: find SMEs on industry chains, verify what they make and sell, decide credit lines."""
    State.quiet, State.debug, State.config_path = quiet, debug, config
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


WorkspaceOpt = Annotated[Path, typer.Option("--workspace", "-w", help="Workspace folder (one DuckDB file + Parquet).")]
ProfileOpt = Annotated[str, typer.Option(
    "--profile", help="standard, or blind: held-out vocabulary, invoice lines as written, name noise the "
                      "stages were not written for, 1-6 anchors per chain (see chainlight.synth.vocab).")]


class EngineName(enum.StrEnum):
    duckdb = "duckdb"
    spark = "spark"


EngineOpt = Annotated[EngineName | None, typer.Option(
    "--engine", help="Batch engine: duckdb (embedded, default) or spark (scale-out; the [spark] extra). "
                     "Overrides engine.name.")]


def _engine_overrides(engine: EngineName | None) -> dict[str, Any]:
    return {"engine": {"name": engine.value}} if engine else {}


def _workspace(path: Path, cfg: Config, *, create: bool = False) -> Any:
    from chainlight.workspace import Workspace
    return Workspace(path, cfg, create=create)


def _module(name: str, issue: str) -> Any:
    if importlib.util.find_spec(name) is None:
        raise NotBuiltYet(f"{name.split('.')[-1]} is not built yet (it arrives with the {issue} issue)")
    return importlib.import_module(name)


# -- synth ------------------------------------------------------------------------------------------
@app.command()
@handles_errors
def synth(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the input files and truth/ into.")],
    firms: Annotated[int, typer.Option("--firms", min=10, help="Number of enterprises.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives byte-identical files.")] = 42,
    format: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    encoding: Annotated[str, typer.Option("--encoding", help="CSV encoding: utf-8 or gbk.")] = "utf-8",
    profile: ProfileOpt = "standard",
    partitioned: Annotated[bool, typer.Option("--partitioned", help="Each input table as a folder of Parquet parts "
                                              "(invoices/part-00000.parquet, …), as Spark reads them.")] = False,
) -> None:
    """Write the synthetic chain economy's input files plus its ground truth."""
    _output_folder(out)
    summary = _synth(out, firms, seed, format, encoding, profile, partitioned)
    say(f"wrote {out} (profile {profile}): " + ", ".join(f"{k} {v:,}" for k, v in summary.rows.items()))
    if summary.ontology is not None:
        say(f"the stages must load the seen ontology {summary.ontology}: `ontology: {summary.ontology}` in the "
            f"config YAML, or CHAINLIGHT_ONTOLOGY={summary.ontology}")


def _output_folder(path: Path) -> None:
    """A folder to write into: absent (it is created) or a folder, never a file."""
    if path.exists() and not path.is_dir():
        raise InputError("is a file, not a folder", file=str(path))


def _synth(out: Path, firms: int, seed: int, fmt: str = "parquet", encoding: str = "utf-8",
           profile: str = "standard", partitioned: bool = False) -> Any:
    if seed < 0:
        raise InputError(f"--seed must be 0 or more, got {seed}", field="seed")
    synth_module = _module("chainlight.synth", "Synthetic economy")
    with progress_task("synth") as update:
        return synth_module.generate(out, firms=firms, seed=seed, fmt=fmt, encoding=encoding, profile=profile,
                                     partitioned=partitioned, progress=lambda text, fraction: update(text, fraction))


# -- ingest -----------------------------------------------------------------------------------------
@app.command()
@handles_errors
def ingest(
    workspace: WorkspaceOpt,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of input files (CSV/TSV/Parquet/JSONL).")],
    engine: EngineOpt = None,
) -> None:
    """Load a user's files; quarantine every bad row with a reason; name any file that cannot be read."""
    cfg = _config(**_engine_overrides(engine))
    with _workspace(workspace, cfg, create=True) as ws:
        report = _ingest(ws, cfg, paths)
    if report.errors:
        for failed in report.errors:
            _error(failed.error or "")
        raise typer.Exit(1)


def _ingest(ws: Any, cfg: Config, paths: list[Path]) -> Any:
    pipeline.check_engine(ws.engine, ["ingest"])
    from chainlight import ingest as ingest_stage
    with progress_task("ingest") as update:
        report = ingest_stage.run(ws, cfg, paths, progress=lambda r: update(Path(r.file).name, None))
    if not State.quiet:
        table = Table("file", "table", "rows in", "loaded", "quarantined", title=f"ingest {report.run_id}")
        for r in report.files:
            table.add_row(Path(r.file).name, r.table or "-", f"{r.rows_in:,}", f"{r.rows_loaded:,}",
                          f"{r.rows_quarantined:,}" if not r.error else "[red]not loaded[/red]")
        totals = report.totals()
        table.add_row("total", "", f"{totals['rows_in']:,}", f"{totals['rows_loaded']:,}",
                      f"{totals['rows_quarantined']:,}")
        console.print(table)
    return report


# -- run ----------------------------------------------------------------------------------------------
@app.command()
@handles_errors
def run(
    workspace: WorkspaceOpt,
    stage: Annotated[list[str] | None, typer.Option("--stage", help="Stage to run (repeatable); default all built.")] = None,
    engine: EngineOpt = None,
) -> None:
    """Run batch stages in pipeline order, each atomically."""
    cfg = _config(**_engine_overrides(engine))
    with _workspace(workspace, cfg) as ws:
        _run_stages(ws, cfg, stage)


def _run_stages(ws: Any, cfg: Config, stages: list[str] | None) -> list[Any]:
    with progress_task("run") as update:
        results = pipeline.run_stages(ws, cfg, stages, on_stage=lambda s: update(s, None))
    for result in results:
        say(f"{result.stage}: " + ", ".join(f"{t} {n:,} rows" for t, n in result.tables.items())
            + f"  (run {result.run_id})")
    return results


# -- eval ---------------------------------------------------------------------------------------------
@app.command("eval")
@handles_errors
def eval_command(
    workspace: WorkspaceOpt,
    truth: Annotated[Path | None, typer.Option("--truth", help="Ground-truth folder (default: the demo's).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object with DESIGN.md's stable keys.")] = False,
) -> None:
    """Each stage's quality against ground truth."""
    from chainlight.eval import evaluate
    if truth is not None and not truth.is_dir():
        raise InputError("no such ground-truth folder", file=str(truth))
    cfg = _config()
    with _workspace(workspace, cfg) as ws:
        report = evaluate(ws, truth)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, sort_keys=False))
    else:
        _print_report(report)


def _print_report(report: dict[str, Any]) -> None:
    table = Table("metric", "value", title="chainlight eval")
    for section, values in report.items():
        for key, value in values.items():
            if isinstance(value, dict):
                continue
            table.add_row(f"{section}.{key}", f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


# -- demo ---------------------------------------------------------------------------------------------
@app.command()
@handles_errors
def demo(
    workspace: WorkspaceOpt = Path("chainlight-demo"),
    firms: Annotated[int, typer.Option("--firms", min=1000, help="Number of enterprises.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 42,
    profile: ProfileOpt = "standard",
    engine: EngineOpt = None,
) -> None:
    """Synthetic economy → ingest → every built stage → eval, with a short summary."""
    from chainlight.eval import evaluate
    cfg = _config(seed=seed, **_engine_overrides(engine))
    _output_folder(workspace)
    inputs = workspace / "inputs"
    with _workspace(workspace, cfg, create=True) as ws:
        # every step must run on the chosen engine: refuse before generating anything if one cannot
        pipeline.check_engine(ws.engine, ["ingest", *pipeline.built_stages()])
        summary = _synth(inputs, firms, seed, profile=profile)
        say(f"profile: {profile}" + (f" (stages load the seen ontology {summary.ontology})" if summary.ontology else ""))
        if summary.ontology is not None:  # blind: the stages (and eval, through ws.config) load the seen ontology
            cfg = ws.config = _config(seed=seed, ontology=summary.ontology, **_engine_overrides(engine))
        report = _ingest(ws, cfg, [inputs])
        if report.errors:
            raise ChainlightError(f"demo inputs failed to ingest: {report.errors[0].error}")
        _run_stages(ws, cfg, None)
        quality = evaluate(ws)
        story = _story(ws, cfg)
    _print_report(quality)
    if story is not None:
        _print_story(story)
    say(f"workspace: {workspace} (try: chainlight eval --workspace {workspace} --json)")


def _story(ws: Any, cfg: Config) -> Any:
    if not pipeline.is_built("risk") or not ws.table_exists("risk_models"):
        return None
    from chainlight.risk import story
    from chainlight.synth import STORY_FIRM_NAME
    uscc = story.find_story_firm(ws, STORY_FIRM_NAME)
    return story.tell(ws, cfg, uscc) if uscc else None


def _print_story(story: Any) -> None:
    """The demo's ending: what a registry-only lender sees beside what chainlight sees, and both decisions."""
    if State.quiet:
        return
    registry = story.registry
    table = Table("what the registry says", "what chainlight sees", title=f"the story: {registry['name']}")
    left = [f"scope: {registry['scope']}", f"industry code: {registry['industry_code']}", f"city: {registry['city']}",
            f"registered capital: {_money(registry['registered_capital'])}", f"high-tech flag: {registry['high_tech']}"]
    right = []
    for key, value in story.chain.items():
        if isinstance(value, list):
            value = " → ".join(value) if key == "path to anchor" else ", ".join(value)
        elif isinstance(value, float) and "¥" in key:
            value = f"{value:,.0f}"
        elif isinstance(value, float):
            value = f"{value:.2f}"
        right.append(f"{key}: {value}")
    for i in range(max(len(left), len(right))):
        table.add_row(left[i] if i < len(left) else "", right[i] if i < len(right) else "")
    console.print(table)
    _print_decision(story.traditional, "traditional view (registry + bureau)")
    _print_decision(story.chainlight, "chainlight view")


# -- later stages ---------------------------------------------------------------------------------------
@app.command()
@handles_errors
def decide(
    workspace: WorkspaceOpt,
    uscc: Annotated[str, typer.Option("--uscc", help="Applicant's unified social credit code.")],
    amount: Annotated[float, typer.Option("--amount", help="Requested amount in yuan.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as one JSON object.")] = False,
) -> None:
    """One online decision, printed with its reasons (and appended to the audit log)."""
    from chainlight.risk.decide import DecisionService
    cfg = _config()
    with _workspace(workspace, cfg) as ws:
        decision = DecisionService.load(ws, cfg).decide(uscc, amount)
    if as_json:
        typer.echo(decision.model_dump_json())
    else:
        _print_decision(decision)


def _money(value: float | None) -> str:
    return "-" if value is None else f"¥{value:,.0f}"


def _print_decision(decision: Any, title: str | None = None) -> None:
    """A decision as a firm owner and an auditor read it: outcome, line, reasons (EN + 中文), evidence."""
    colour = {"approve": "green", "refer": "yellow", "decline": "red"}[decision.decision]
    console.print(f"[bold]{title or decision.uscc}[/bold]: [{colour}]{decision.decision}[/{colour}] "
                  f"{_money(decision.amount)} of {_money(decision.requested_amount)} requested; "
                  f"PD {decision.pd if decision.pd is None else f'{decision.pd:.2%}'}, score "
                  f"{decision.score if decision.score is None else f'{decision.score:.0f}'}")
    table = Table("", "reason", "原因", show_header=True, box=None)
    for reason in decision.reasons:
        table.add_row("−" if reason.direction == "adverse" else "+", reason.text_en, reason.text_zh)
    console.print(table)
    path = decision.evidence.get("path_to_anchor") or []
    if path:
        console.print("path to anchor: " + " → ".join(step["name"] for step in path))
    customers = decision.evidence.get("key_customers") or []
    if customers:
        console.print("key customers: " + ", ".join(f"{c['name']} ({_money(c['amount'])})" for c in customers))
    flags = decision.evidence.get("claims_contradicted") or []
    if flags:
        console.print(f"[yellow]contradicted claims (ignored): {len(flags)}[/yellow] — "
                      + "; ".join(f["span_text"] for f in flags[:3]))
    if decision.audit_entry_id:
        console.print(f"audit entry {decision.audit_entry_id}; versions: "
                      + ", ".join(f"{k}={v}" for k, v in sorted(decision.versions.items())))


@app.command()
@handles_errors
def serve(
    workspace: WorkspaceOpt,
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on (default: serve.host).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default: serve.port).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, max=64,
                                                       help="Worker processes (default: serve.workers).")] = None,
) -> None:
    """HTTP API + web page over a workspace (features in memory; SIGHUP reloads them)."""
    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
        raise ChainlightError("serve needs the web extra: pip install 'chainlight[web]'")
    from chainlight.serve import runner
    flags = {"host": host, "port": port, "workers": workers}
    cfg = _config(serve={k: v for k, v in flags.items() if v is not None})
    say(f"chainlight serve: http://{cfg.serve.host}:{cfg.serve.port}/ ({cfg.serve.workers} worker(s), workspace {workspace})")
    runner.run(workspace, cfg)


@keys_app.command("create")
@handles_errors
def keys_create(
    workspace: WorkspaceOpt,
    role: Annotated[str, typer.Option("--role", help="analyst (read) or decider (read and decide).")],
    label: Annotated[str, typer.Option("--label", help="A note saying who holds the key.")] = "",
) -> None:
    """Make an API key; it is printed once and stored only hashed."""
    from chainlight.serve.keys import KeyStore
    key, token = KeyStore(workspace).create(role, label)
    say(f"key {key.key_id} ({key.role}) created; it is shown only now:")
    typer.echo(token)


@keys_app.command("list")
@handles_errors
def keys_list(workspace: WorkspaceOpt) -> None:
    """Every key: id, role, label, created, revoked (never the secret)."""
    from chainlight.serve.keys import KeyStore
    for key in KeyStore(workspace).list():
        typer.echo(f"{key.key_id}\t{key.role}\t{'revoked ' + key.revoked_at if key.revoked_at else 'active'}\t"
                   f"{key.created_at}\t{key.label}")


@keys_app.command("revoke")
@handles_errors
def keys_revoke(
    workspace: WorkspaceOpt,
    key_id: Annotated[str, typer.Argument(help="The key id shown by `keys list`.")],
) -> None:
    """Revoke a key; a running service refuses it from its next request."""
    from chainlight.serve.keys import KeyStore
    key = KeyStore(workspace).revoke(key_id)
    say(f"key {key.key_id} revoked at {key.revoked_at}")


@audit_app.command("verify")
@handles_errors
def audit_verify(workspace: WorkspaceOpt) -> None:
    """Re-hash the audit chain; non-zero exit if broken."""
    from chainlight.errors import InputError
    from chainlight.risk import audit
    if not workspace.is_dir():
        raise InputError("workspace does not exist", file=str(workspace))
    report = audit.verify(workspace)
    if not report.ok:
        _error(f"audit log broken: {report.message}")
        raise typer.Exit(1)
    say(f"audit log ok: {report.message}")


@audit_app.command("replay")
@handles_errors
def audit_replay(
    workspace: WorkspaceOpt,
    entry: Annotated[int, typer.Option("--entry", help="Audit entry id of the decision to recompute.")],
) -> None:
    """Recompute a logged decision from its recorded inputs; non-zero exit if it differs."""
    from chainlight.risk import audit
    cfg = _config()
    with _workspace(workspace, cfg) as ws:
        logged = audit.entry(ws, entry)
        replayed = audit.replay(ws, entry)
    same = replayed.model_dump(exclude={"audit_entry_id", "decided_at"}) == logged["decision"]
    _print_decision(replayed, f"replay of entry {entry}")
    if not same:
        _error(f"entry {entry}: the replayed decision differs from the logged one")
        raise typer.Exit(1)
    say("replay matches the logged decision")


@ontology_app.command("build")
@handles_errors
def ontology_build(
    source: Annotated[Path, typer.Option("--from", help="Folder of real chain relation data (chain_kg layout).")],
    out: Annotated[Path, typer.Option("--out", help="Ontology YAML file to write.")],
) -> None:
    """Build a chain ontology from real relation data."""
    build = _module("chainlight.ontology.build", "Knowledge")
    summary = build.build_from_chain_kg(source, out)
    say(f"wrote {out}: {summary}")


# -- scorecard ------------------------------------------------------------------------------------------
@scorecard_app.command("fit")
@handles_errors
def scorecard_fit(
    data: Annotated[Path, typer.Option("--data", help="Labelled CSV (UTF-8 or GBK).")],
    label: Annotated[str, typer.Option("--label", help="Label column.")],
    bad: Annotated[str, typer.Option("--bad", help="Label value that means bad (default).")],
    out: Annotated[Path, typer.Option("--out", help="Card file to write (JSON); the HTML report goes beside it.")],
    categorical: Annotated[list[str] | None, typer.Option("--categorical", help="A categorical column (repeatable).")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Leave this column out, e.g. an id (repeatable).")] = None,
    special: Annotated[list[str] | None, typer.Option("--special", help="Special code, own bin, e.g. -999 (repeatable).")] = None,
    score_data: Annotated[Path | None, typer.Option("--score-data", help="Scoring CSV: PSI per feature in the report.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for folds and models.")] = 42,
    pdo: Annotated[float, typer.Option("--pdo", help="Points to double the odds.")] = 20,
    base_points: Annotated[float, typer.Option("--base-points", help="Score at the base odds.")] = 600,
    base_odds: Annotated[float, typer.Option("--base-odds", help="Good:bad odds at the base points.")] = 50,
    folds: Annotated[int, typer.Option("--folds", min=0, help="CV folds for the report's card/challenger AUCs; 0 skips.")] = 5,
) -> None:
    """Fit a scorecard (monotone binning, WOE, logistic regression, points) and write its HTML report."""
    from chainlight.risk import report
    from chainlight.risk.scorecard import Scorecard, cross_validate, fit_challenger, read_csv

    frame = read_csv(data)
    scoring = read_csv(score_data) if score_data is not None else None
    if label not in frame.columns:
        raise InputError(f"label column {label!r} is not in the data", file=str(data))
    skipped = set(exclude or [])
    absent = sorted(skipped - set(frame.columns))
    if absent:
        raise InputError(f"--exclude column(s) not in the data: {', '.join(absent)}", file=str(data))
    features = [c for c in frame.columns if c != label and c not in skipped]
    args: dict[str, Any] = {"features": features, "categorical": categorical, "special_codes": special, "pdo": pdo,
                            "base_points": base_points, "base_odds": base_odds}
    with progress_task("scorecard") as update:
        update("fitting", 0.1)
        card = Scorecard.fit(frame, label, bad, seed=seed, **args)
        cv = challenger = None
        if folds >= 2:
            update("cross-validating the card", 0.4)
            cv = cross_validate(frame, label, bad, folds=folds, seed=seed, **args)
            update("LightGBM challenger", 0.8)
            challenger = fit_challenger(frame, label, bad, features=features, categorical=categorical, folds=folds, seed=seed)
        if scoring is not None:
            card.score(scoring)  # names the missing feature columns before anything is written
        page = report.render(card, frame, score_frame=scoring, cv=cv, challenger=challenger)
        html_path = report.report_path(out)
        try:
            card.save(out)
            html_path.write_text(page, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write ({exc.strerror or exc})", file=str(exc.filename or out)) from None
    cv_text = f"; {folds}-fold CV AUC {cv.mean_auc:.4f}, LightGBM challenger {challenger.mean_auc:.4f}" if cv and challenger else ""
    say(f"wrote {out}: card {card.version}, {len(card.features)} features")
    say(f"training AUC {card.training['auc']:.4f}{cv_text}")
    say(f"report: {html_path}")


@scorecard_app.command("apply")
@handles_errors
def scorecard_apply(
    card_path: Annotated[Path, typer.Option("--card", help="Card file written by `scorecard fit`.")],
    data: Annotated[Path, typer.Option("--data", help="CSV to score (UTF-8 or GBK; the label column may be absent).")],
    out: Annotated[Path, typer.Option("--out", help="CSV to write: every input row in order, plus pd and score.")],
) -> None:
    """Score a CSV with a card: adds ``pd`` (calibrated probability of default) and ``score`` (points)."""
    from chainlight.risk.scorecard import Scorecard, read_csv

    card = Scorecard.load(card_path)
    frame = read_csv(data)
    try:
        score = card.score(frame)
    except InputError as exc:
        raise InputError(exc.reason, file=str(data)) from None
    frame["pd"] = card.pd_of_score(score)
    frame["score"] = score
    try:
        frame.to_csv(out, index=False, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write ({exc.strerror or exc})", file=str(out)) from None
    say(f"wrote {out}: {len(frame):,} rows scored with card {card.version}")
