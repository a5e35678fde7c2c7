"""Start the service with uvicorn: one process, or several workers that each load their own snapshot."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from chainlight.config import Config
from chainlight.errors import InputError
from chainlight.workspace import DB_FILE


def run(workspace: Path, cfg: Config) -> None:
    import uvicorn

    if not (Path(workspace) / DB_FILE).exists():
        raise InputError("workspace has no database (run `chainlight ingest` or `chainlight demo` first)",
                         file=str(workspace))
    # uvloop and httptools (uvicorn[standard]) are what "auto" picks; no access log (the app logs one line
    # per request without personal data); no proxy-header rewriting (client addresses are never used)
    common = {"host": cfg.serve.host, "port": cfg.serve.port, "access_log": False, "log_level": "warning",
              "server_header": False, "loop": "auto", "http": "auto", "proxy_headers": False}
    if cfg.serve.workers == 1:
        from chainlight.serve.app import create_app
        uvicorn.run(create_app(workspace, cfg), **common)  # type: ignore[arg-type]
        return
    # workers are fresh processes: they read the workspace and the settings from the environment
    os.environ["CHAINLIGHT_SERVE_WORKSPACE"] = str(Path(workspace).resolve())
    os.environ["CHAINLIGHT_SERVE_SETTINGS"] = cfg.model_dump_json()
    with tempfile.TemporaryDirectory(prefix="chainlight-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        uvicorn.run("chainlight.serve.app:app_from_env", factory=True, workers=cfg.serve.workers, **common)  # type: ignore[arg-type]
