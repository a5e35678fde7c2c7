"""Error classes shared by the library, the CLI and the HTTP API.

The CLI prints ``error: <one line>`` for any ChainlightError; the API maps ``http_status``.
"""

from __future__ import annotations


class ChainlightError(Exception):
    """Root of every error chainlight raises on purpose."""

    http_status = 500


class InputError(ValueError, ChainlightError):
    """Bad user data: names the file, the row and the field where known."""

    http_status = 400

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 field: str | None = None) -> None:
        self.file, self.row, self.field, self.reason = file, row, field, message
        where = []
        if file:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if field:
            where.append(f"field {field!r}")
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")


class NotFound(ChainlightError):
    http_status = 404


class Forbidden(ChainlightError):
    http_status = 403


class StageError(ChainlightError):
    """A batch stage failed; the previous good tables are kept."""

    def __init__(self, message: str, *, stage: str | None = None, table: str | None = None,
                 sql: str | None = None) -> None:
        self.stage, self.table, self.sql = stage, table, sql
        prefix = f"stage {stage}: " if stage else ""
        suffix = f" (table {table})" if table else ""
        super().__init__(f"{prefix}{message}{suffix}")


class NotBuiltYet(ChainlightError):
    """A command whose stage a later release provides."""

    http_status = 501


class EngineUnsupported(ChainlightError):
    """A stage that cannot run on the chosen batch engine yet (it lacks a capability the stage needs)."""

    http_status = 501


class LLMUnavailable(ChainlightError):
    """The LLM endpoint cannot be used; the cascade falls back to the offline extractor."""

    http_status = 503


class Unauthorized(ChainlightError):
    """No API key, a malformed one, or one that is unknown or revoked."""

    http_status = 401


class PayloadTooLarge(ChainlightError):
    http_status = 413


class RateLimited(ChainlightError):
    """Too many requests for one API key; retry after a second."""

    http_status = 429


class Unavailable(ChainlightError):
    """A part the service needs is not there (a stage not built or not run, the workspace busy)."""

    http_status = 503
