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
app.add_typer(audit_app, name="audit")
app.add_typer(ontology_app, name="ontology")

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
) -> None:
    """Write the synthetic chain economy's input files plus its ground truth."""
    _output_folder(out)
    summary = _synth(out, firms, seed, format, encoding)
    say(f"wrote {out}: " + ", ".join(f"{k} {v:,}" for k, v in summary.items()))


def _output_folder(path: Path) -> None:
    """A folder to write into: absent (it is created) or a folder, never a file."""
    if path.exists() and not path.is_dir():
        raise InputError("is a file, not a folder", file=str(path))


def _synth(out: Path, firms: int, seed: int, fmt: str = "parquet", encoding: str = "utf-8") -> dict[str, int]:
    if seed < 0:
        raise InputError(f"--seed must be 0 or more, got {seed}", field="seed")
    synth_module = _module("chainlight.synth", "Synthetic economy")
    with progress_task("synth") as update:
        summary = synth_module.generate(out, firms=firms, seed=seed, fmt=fmt, encoding=encoding,
                                        progress=lambda text, fraction: update(text, fraction))
    counts = getattr(summary, "rows", None) or getattr(summary, "counts", None) or {}
    return dict(counts)


# -- ingest -----------------------------------------------------------------------------------------
@app.command()
@handles_errors
def ingest(
    workspace: WorkspaceOpt,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of input files (CSV/TSV/Parquet/JSONL).")],
) -> None:
    """Load a user's files; quarantine every bad row with a reason; name any file that cannot be read."""
    cfg = _config()
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
        _synth(inputs, firms, seed)
        report = _ingest(ws, cfg, [inputs])
        if report.errors:
            raise ChainlightError(f"demo inputs failed to ingest: {report.errors[0].error}")
        _run_stages(ws, cfg, None)
        quality = evaluate(ws)
    _print_report(quality)
    say(f"workspace: {workspace} (try: chainlight eval --workspace {workspace} --json)")


# -- later stages ---------------------------------------------------------------------------------------
@app.command()
@handles_errors
def decide(
    workspace: WorkspaceOpt,
    uscc: Annotated[str, typer.Option("--uscc", help="Applicant's unified social credit code.")],
    amount: Annotated[float, typer.Option("--amount", help="Requested amount in yuan.")],
) -> None:
    """One online decision, printed with its reasons."""
    _module("chainlight.risk", "Risk engine")
    raise NotBuiltYet("decide is not built yet (it arrives with the Risk engine issue)")


@app.command()
@handles_errors
def serve(
    workspace: WorkspaceOpt,
    host: Annotated[str | None, typer.Option("--host")] = None,
    port: Annotated[int | None, typer.Option("--port")] = None,
) -> None:
    """HTTP API + web page."""
    _module("chainlight.serve", "Serve")
    raise NotBuiltYet("serve is not built yet (it arrives with the Serve issue)")


@audit_app.command("verify")
@handles_errors
def audit_verify(workspace: WorkspaceOpt) -> None:
    """Re-hash the audit chain; non-zero exit if broken."""
    _module("chainlight.risk.audit", "Risk engine")
    raise NotBuiltYet("audit verify is not built yet (it arrives with the Risk engine issue)")


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
