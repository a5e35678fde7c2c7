"""The HTTP API and the web page: a thin FastAPI shell over the snapshot, the resolver and the risk engine.

Handlers stay small and raise ``chainlight.errors`` classes; one place turns any error into a JSON
body ``{"error", "detail"}`` with the class's status (datasette style), so a bad request is always a
4xx and never a traceback. Two pure-ASGI layers sit in front of FastAPI's own middleware stack
(``App``): ``Guard`` does what every request needs (body limit, timing, metrics, a log line without
personal data: route template, status, key id, milliseconds), and ``FastDecisions`` answers well-formed
decision requests on the event loop, without FastAPI's per-request machinery, and hands everything
else to FastAPI unchanged.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from chainlight import __version__, resolve
from chainlight.config import Config
from chainlight.errors import ChainlightError, Forbidden, RateLimited, Unauthorized, Unavailable
from chainlight.resolve.matcher import Resolver
from chainlight.risk import audit
from chainlight.risk.decide import Decision, DecisionService
from chainlight.serve import metrics, models, search, views
from chainlight.serve.keys import ApiKey, KeyStore
from chainlight.serve.snapshot import Snapshot, wait_for_workspace

log = logging.getLogger("chainlight.serve")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ERROR_NAMES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
               413: "payload_too_large", 422: "invalid_request", 429: "rate_limited", 501: "not_built",
               503: "unavailable"}
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": models.ErrorBody, "description": name.replace("_", " ")}
    for code, name in ERROR_NAMES.items() if code in (400, 401, 403, 404, 413, 422, 429, 503)}


class Service:
    """Everything one worker process holds: the snapshot, keys, limiter, resolver, decision engine."""

    def __init__(self, root: Path, cfg: Config) -> None:
        self.root, self.cfg = Path(root), cfg
        self.keys = KeyStore(self.root)
        self.snapshot = Snapshot.load(self.root, wait_s=cfg.serve.snapshot_retry_s,
                                      spark_warehouse=cfg.engine.spark_warehouse)
        self._resolver: tuple[Snapshot, Resolver] | None = None
        self._reload_lock = threading.Lock()
        self.limiter = RateLimiter(max(1, math.ceil(cfg.serve.rate_limit_per_second / max(1, cfg.serve.workers))))
        self.latest: dict[str, dict[str, Any]] = {}  # decisions made by this process, per firm (as served)
        self._decisions: DecisionService | None = None
        self.decisions_detail = "not loaded"
        self._load_decisions()

    # -- snapshot ---------------------------------------------------------------------------------
    def reload(self) -> Snapshot:
        """A new snapshot, swapped in whole; requests under way finish on the old one."""
        with self._reload_lock:
            fresh = Snapshot.load(self.root, wait_s=self.cfg.serve.snapshot_retry_s,
                                   spark_warehouse=self.cfg.engine.spark_warehouse)
            self.snapshot = fresh
            self._load_decisions()
        metrics.SNAPSHOT_LOADED.set(time.time())
        return fresh

    def resolver(self) -> Resolver:
        snap = self.snapshot
        cached = self._resolver
        if cached is None or cached[0] is not snap:
            registry = resolve.registry_table(snap.view()) if snap.has("enterprises", "aliases") else None  # type: ignore[arg-type]
            cached = self._resolver = (snap, search.build_resolver(registry))
        return cached[1]

    # -- decisions --------------------------------------------------------------------------------
    def _load_decisions(self) -> None:
        """The risk engine's DecisionService, features in memory; it keeps only the workspace folder
        (for the audit log, a file appended under a lock by any number of workers)."""
        from chainlight.workspace import Workspace
        ws = wait_for_workspace(lambda: Workspace(self.root, self.cfg, create=False, read_only=True),
                                self.cfg.serve.snapshot_retry_s)
        try:
            self._decisions = DecisionService.load(ws, self.cfg)
            self.decisions_detail = "ready"
        except ChainlightError as exc:  # e.g. the risk stage has not run: reads work, decisions say why not
            self._decisions, self.decisions_detail = None, f"risk engine not ready: {exc}"
        finally:
            ws.close()

    async def decide(self, body: models.DecisionRequest) -> dict[str, Any]:
        """One decision as the ``Decision`` dict, on the event loop: scored and its audit entry written at
        once (about 0.1 ms), then awaited until the entry is durable; concurrent decisions share flushes
        (group commit), which run in the audit log's flush threads, not in a thread per decision."""
        if self._decisions is None:
            raise Unavailable(self.decisions_detail)
        decision = await self._decisions.decide_record_async(body.uscc, body.amount, body.application_id)
        self.latest[body.uscc] = decision
        return decision

    def latest_decision(self, uscc: str) -> dict[str, Any] | None:
        """This process's newest online decision for a firm, as the profile shows it."""
        decision = self.latest.get(uscc)
        return None if decision is None else {**decision, "source": "online"}

    # -- access -----------------------------------------------------------------------------------
    def authorise(self, credentials: HTTPAuthorizationCredentials | None, permission: str) -> ApiKey:
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
        key = self.keys.authenticate(credentials.credentials.strip())
        if key is None:
            raise Unauthorized("unknown or revoked API key")
        if not self.limiter.hit(key.key_id):
            raise RateLimited(f"more than {self.cfg.serve.rate_limit_per_second} requests per second for this key")
        if not key.may(permission):
            raise Forbidden(f"role {key.role!r} may not {permission}")
        return key


class RateLimiter:
    """Fixed one-second windows per key; used from the event loop thread only, so no lock is needed."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self.windows: dict[str, tuple[int, int]] = {}  # key id -> (window, requests in it)

    def hit(self, key_id: str) -> bool:
        """Count one request; False when it is over the limit."""
        window = int(time.monotonic())
        start, count = self.windows.get(key_id, (window, 0))
        count = count + 1 if start == window else 1
        self.windows[key_id] = (window, count)
        return count <= self.per_second

    def allows(self, key_id: str) -> bool:
        """Whether one more request would pass now (counts nothing)."""
        start, count = self.windows.get(key_id, (-1, 0))
        return start != int(time.monotonic()) or count < self.per_second


# Dependencies are coroutines so FastAPI runs them on the event loop, not in a worker thread.
bearer = HTTPBearer(auto_error=False, description="An API key made by `chainlight keys create`.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def _reader(request: Request, credentials: Credentials) -> ApiKey:
    key = _service(request).authorise(credentials, "read")
    request.scope["chainlight.key"] = key.key_id
    return key


async def _decider(request: Request, credentials: Credentials) -> ApiKey:
    key = _service(request).authorise(credentials, "decide")
    request.scope["chainlight.key"] = key.key_id
    return key


Reader = Annotated[ApiKey, Depends(_reader)]
Decider = Annotated[ApiKey, Depends(_decider)]


# -- errors ------------------------------------------------------------------------------------------
def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": ERROR_NAMES.get(status, "error" if status >= 500 else "bad_request"), "detail": " ".join(detail.split())[:500]}
    return JSONResponse(body, status_code=status, headers=headers)


def _error_of(exc: ChainlightError) -> JSONResponse:
    status = exc.http_status
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {"Retry-After": "1"} if status == 429 else None
    if status >= 500 and status not in (501, 503):
        log.error("request failed: %s", type(exc).__name__)
        return _error(status, "internal error")
    return _error(status, str(exc), headers)


async def _chainlight_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ChainlightError)
    return _error_of(exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return _error(422, f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg")))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s: %s", request.scope.get("route") and request.scope["route"].path, type(exc).__name__)
    return _error(500, "internal error")


# -- the one middleware --------------------------------------------------------------------------------
class Guard:
    """Body size limit (413), timing, metrics and one log line per request (no personal data)."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            length = dict(scope["headers"]).get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_body):
                await _send_json(send_wrapper, 413 if length.isdigit() else 400,
                                 f"request body larger than {self.max_body} bytes" if length.isdigit() else "bad Content-Length")
                return
            if length is None and scope["method"] in ("POST", "PUT", "PATCH"):  # chunked: read up to the limit
                buffered = await _read_body(receive, self.max_body)
                if buffered is None:
                    await _send_json(send_wrapper, 413, f"request body larger than {self.max_body} bytes")
                    return
                receive = buffered[1]
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            seconds = time.perf_counter() - started
            metrics.observe(scope["method"], template, status, seconds)
            log.info("%s %s %d %.1fms key=%s", scope["method"], template, status, seconds * 1000,
                     scope.get("chainlight.key", "-"))


class FastDecisions:
    """POST /v1/decisions for well-formed requests without FastAPI's routing, dependency and exception
    layers (most of a decision's CPU besides the decision itself).

    It takes a request only when it will succeed up to the decision: JSON content type, a bearer key
    that may decide, a body that validates as ``DecisionRequest`` and room under the rate limit. Anything
    else is handed, body replayed and nothing counted, to the FastAPI route, which answers it exactly as
    before (401/403/413/422/429 and their messages). Both paths build the response with ``_decided``.
    """

    def __init__(self, app: ASGIApp, service: Service, route: Any) -> None:
        self.app, self.service, self.route = app, service, route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/v1/decisions" \
                or self.service._decisions is None:
            await self.app(scope, receive, send)
            return
        read = await _read_body(receive)  # no limit here: Guard, in front, enforced it
        assert read is not None
        body, receive = read
        service = self.service
        key, parsed = _decider_key(service, scope["headers"]), None
        if key is not None and service.limiter.allows(key.key_id):
            try:
                parsed = models.DecisionRequest.model_validate_json(body)
            except ValidationError:
                parsed = None
        if key is None or parsed is None:
            await self.app(scope, receive, send)
            return
        service.limiter.hit(key.key_id)
        scope["chainlight.key"], scope["route"] = key.key_id, self.route
        try:
            answer = _decision_json(await service.decide(parsed))
        except ChainlightError as exc:
            await _error_of(exc)(scope, receive, send)
            return
        except Exception as exc:  # what FastAPI's outermost handler (``_unexpected``) would answer
            log.error("internal error on /v1/decisions: %s", type(exc).__name__)
            await _error(500, "internal error")(scope, receive, send)
            return
        # the headers starlette's Response(media_type="application/json") sends, without building one
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(answer)).encode("latin-1")), JSON_TYPE]})
        await send({"type": "http.response.body", "body": answer})


def _decider_key(service: Service, headers: list[tuple[bytes, bytes]]) -> ApiKey | None:
    """The active key with the right to decide that a JSON request carries, else None."""
    token, json_body = None, False
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer":
                return None
        elif name == b"content-type":
            json_body = value.split(b";", 1)[0].strip().lower() == b"application/json"
    if not token or not token.strip() or not json_body:
        return None
    key = service.keys.authenticate(token.strip())
    return key if key is not None and key.may("decide") else None


async def _read_body(receive: Receive, limit: int | None = None) -> tuple[bytes, Receive] | None:
    """The whole request body, and a ``receive`` that replays it to the app behind; None when it is
    larger than ``limit``."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if limit is not None and size > limit:
            return None
        more = message.get("more_body", False)
    body, sent = b"".join(chunks), False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return body, replay


JSON_TYPE = (b"content-type", b"application/json")


def _decision_json(decision: dict[str, Any]) -> bytes:
    """A decision's response body, counted in the metrics: the ``Decision`` dict (the response schema's
    fields, each built with its type) written by orjson; a test keeps it equal to the validated model's
    ``model_dump_json``. Anything orjson cannot write goes through the model."""
    metrics.decided(decision["decision"])
    try:
        return orjson.dumps(decision)
    except TypeError:
        return Decision(**decision).model_dump_json().encode("utf-8")


def _decided(decision: dict[str, Any]) -> Response:
    """The route's response to a decision (the requests the fast path handed on)."""
    return Response(_decision_json(decision), media_type="application/json")


async def _send_json(send: Send, status: int, detail: str) -> None:
    response = _error(status, detail)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


# FastAPI ≥ 0.160 checks for OpenTelemetry providers on every request unless told not to
_NO_TELEMETRY: dict[str, Any] = ({"telemetry": {"tracing": False, "metrics": False, "logs": False}}
                                 if "telemetry" in inspect.signature(FastAPI.__init__).parameters else {})


# -- the app -----------------------------------------------------------------------------------------------
class App(FastAPI):
    """FastAPI with ``Guard`` and ``FastDecisions`` in front of its own middleware stack, so a decision on the
    fast path passes through nothing else; every other request goes on to FastAPI's stack unchanged."""

    front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        front = self.front
        if front is None:
            await super().__call__(scope, receive, send)
        else:
            await front(scope, receive, send)

    async def stack(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI's own middleware stack and routes (what ``front`` hands on)."""
        await super().__call__(scope, receive, send)


def create_app(ws_path: Path | str, cfg: Config | None = None) -> App:
    """The service over one workspace; the snapshot is loaded here, before the first request."""
    cfg = cfg or Config()
    service = Service(Path(ws_path), cfg)
    metrics.SNAPSHOT_LOADED.set(time.time())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        if threading.current_thread() is threading.main_thread():
            try:  # SIGHUP reloads the snapshot (with several workers uvicorn restarts them instead)
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, lambda: threading.Thread(
                    target=_safe_reload, args=(service,), daemon=True).start())
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        yield

    app = App(title="chainlight", version=__version__, lifespan=lifespan, **_NO_TELEMETRY,
                  description="Industry-chain credit decisions, enterprise profiles and chain maps. "
                              "Send `Authorization: Bearer <key>`; keys come from `chainlight keys create`.")
    app.state.service = service
    app.add_exception_handler(ChainlightError, _chainlight_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)

    @app.post("/v1/decisions", response_model=models.Decision, responses=ERRORS, tags=["decisions"],
              summary="Decide one credit application")
    async def post_decision(body: models.DecisionRequest, key: Decider, request: Request) -> Response:
        # the requests FastDecisions hands on. The decision and its durable audit append run in a worker
        # thread; concurrent ones share a flush. No second validation against response_model.
        return _decided(await _service(request).decide(body))

    @app.get("/v1/enterprises/{uscc}", response_model=models.Profile, responses=ERRORS, tags=["enterprises"],
             summary="An enterprise's profile")
    def get_enterprise(uscc: Annotated[str, models.USCC_PATH], key: Reader, request: Request) -> models.Profile:
        service = _service(request)
        code = uscc.strip().upper()
        return views.profile(service.snapshot, code, service.latest_decision(code))

    @app.get("/v1/enterprises", response_model=models.SearchResult, responses=ERRORS, tags=["enterprises"],
             summary="Search enterprises by name (short names and typos work)")
    def search_enterprises(params: Annotated[models.SearchParams, Query()], key: Reader,
                           request: Request) -> models.SearchResult:
        service = _service(request)
        snap = service.snapshot
        q = params.q
        limit = params.limit or service.cfg.serve.search_limit
        text = q.strip()
        contains = [r["uscc"] for r in snap.rows("name_contains", {"q": text, "limit": limit})] if text and snap.has(
            "enterprises", "aliases") else []
        hits = search.search(service.resolver(), text, contains, limit) if text else []
        info = views.names(snap, [h.uscc for h in hits])
        results = [models.SearchHit(**{**{k: v for k, v in info[h.uscc].items() if k != "uscc"},
                                       "uscc": h.uscc, "score": h.score, "method": h.method})
                   for h in hits if h.uscc in info]
        return models.SearchResult(query=q, results=results)

    @app.get("/v1/chains", response_model=list[models.ChainSummary], responses=ERRORS, tags=["chains"],
             summary="Every industry chain")
    def get_chains(key: Reader, request: Request) -> list[models.ChainSummary]:
        return views.chains(_service(request).snapshot)

    @app.get("/v1/chains/{chain_id}", response_model=models.ChainDetail, responses=ERRORS, tags=["chains"],
             summary="A chain's segments with firm counts and money flows")
    def get_chain(chain_id: Annotated[str, models.ID_PATH], key: Reader, request: Request) -> models.ChainDetail:
        return views.chain(_service(request).snapshot, chain_id)

    @app.get("/v1/segments/{segment_id}/firms", response_model=models.SegmentFirms, responses=ERRORS, tags=["chains"],
             summary="The firms whose main business is a segment")
    def get_segment_firms(segment_id: Annotated[str, models.ID_PATH], key: Reader, request: Request,
                          page: Annotated[models.PageParams, Query()]) -> models.SegmentFirms:
        return views.segment_firms(_service(request).snapshot, segment_id, page.limit, page.offset)

    @app.get("/v1/audit/verify", response_model=models.AuditStatus, responses=ERRORS, tags=["decisions"],
             summary="Re-hash the audit chain")
    def audit_verify(key: Reader, request: Request) -> models.AuditStatus:
        report = audit.verify(_service(request).root)  # the log is a file beside the database
        return models.AuditStatus(ok=report.ok, entries=report.entries, first_bad=report.first_bad, message=report.message)

    @app.get("/healthz", response_model=models.Health, tags=["service"], summary="Liveness and what is loaded")
    def healthz(request: Request) -> models.Health:
        service = _service(request)
        snap = service.snapshot
        return models.Health(status="ok", version=__version__, workspace=str(service.root),
                             snapshot_loaded_at=snap.loaded_at, snapshot_seconds=round(snap.load_seconds, 3),
                             tables=snap.tables, decisions_available=service._decisions is not None,
                             decisions_detail=service.decisions_detail)

    @app.get("/metrics", response_class=PlainTextResponse, tags=["service"], summary="Prometheus metrics")
    def get_metrics() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    decisions = next(r for r in app.routes if getattr(r, "path", None) == "/v1/decisions")
    app.front = Guard(FastDecisions(app.stack, service, decisions), cfg.serve.max_body_bytes)  # outermost

    static = resources.files("chainlight.serve") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(str(static / "index.html"), media_type="text/html; charset=utf-8")

    return app


def _safe_reload(service: Service) -> None:
    try:
        service.reload()
        log.info("snapshot reloaded")
    except ChainlightError as exc:
        log.warning("reload failed, keeping the current snapshot: %s", exc)


def app_from_env() -> App:
    """Factory for uvicorn's workers: ``chainlight serve`` put the workspace and the settings in the
    environment before starting them."""
    cfg = Config.model_validate_json(os.environ["CHAINLIGHT_SERVE_SETTINGS"])
    return create_app(Path(os.environ["CHAINLIGHT_SERVE_WORKSPACE"]), cfg)
