"""Load on `chainlight serve` over loopback: POST /v1/decisions at a fixed rate, then flat out.

    python bench/serve.py [--firms 5000 | --workspace WS] [--workers 2] [--rate 300] [--seconds 20]
                          [--saturate-seconds 10] [--concurrency 32] [--client auto|wrk|python]

Phase 1 sends requests open-loop at ``--rate`` per second (each timed from its scheduled send moment, so a
stalled server cannot hide its queue) and reports the achieved throughput and p50/p99 latency. Phase 2
keeps ``--concurrency`` requests in flight for ``--saturate-seconds`` and reports the throughput the
service sustains. Every decision appends an audit entry, so the bench uses its own workspace unless
``--workspace`` is given. Bounded: at most rate × seconds requests in phase 1, and a fixed time in phase 2.
The load generator runs on the same machine as the workers and competes with them for the cores: the
Python client (aiohttp) costs about as much CPU per request as the service, so phase 2 (and the /healthz
run) also use ``wrk`` (Debian package ``wrk``, a C client with a Lua script cycling through the same
bodies) when it is installed, and report both; ``--client python`` skips wrk, ``--client wrk`` requires it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import duckdb
import numpy as np
import psutil
from _stage import prepare

from chainlight import pipeline
from chainlight.serve.keys import KeyStore
from chainlight.workspace import DB_FILE


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(workspace: Path, workers: int, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CHAINLIGHT_SERVE__RATE_LIMIT_PER_SECOND": "100000000"}  # measure the service, not the limiter
    proc = subprocess.Popen([sys.executable, "-m", "chainlight", "-q", "serve", "--workspace", str(workspace),
                             "--port", str(port), "--workers", str(workers)], env=env)
    deadline = time.monotonic() + 180
    import urllib.request
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                health = json.loads(response.read())
            if not health["decisions_available"]:
                proc.terminate()
                raise SystemExit(f"the service cannot decide: {health['decisions_detail']}")
            return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("chainlight serve did not start within 180 s")


def server_cpu(proc: subprocess.Popen[bytes]) -> float:
    """CPU seconds (user + system) used so far by ``chainlight serve`` and its workers."""
    total = 0.0
    main = psutil.Process(proc.pid)
    for process in (main, *main.children(recursive=True)):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def cpu_per_request(proc: subprocess.Popen[bytes], run: Any) -> tuple[dict[str, Any], float]:
    """``run()``'s result and the server's CPU milliseconds per successful request during it: the cost of
    a decision that does not depend on how much of the machine the client and other work take."""
    before = server_cpu(proc)
    result = run()
    spent = server_cpu(proc) - before
    return result, round(spent * 1000 / result["ok"], 3) if result["ok"] else float("nan")


def percentiles(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {"p50_ms": float("nan"), "p99_ms": float("nan")}
    values = np.array(latencies) * 1000
    return {"p50_ms": round(float(np.percentile(values, 50)), 2), "p99_ms": round(float(np.percentile(values, 99)), 2)}


async def open_loop(url: str, headers: dict[str, str], bodies: list[dict[str, Any]], rate: float, seconds: float
                    ) -> dict[str, Any]:
    total = int(rate * seconds)
    latencies: list[float] = []
    errors: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        async def one(i: int, due: float) -> None:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            async with session.post(url, json=bodies[i % len(bodies)]) as response:
                await response.read()
                if response.status != 200:
                    errors[response.status] = errors.get(response.status, 0) + 1
                    return
            latencies.append(time.perf_counter() - due)  # from the scheduled moment: queueing counts

        began = time.perf_counter() + 0.2
        await asyncio.gather(*(one(i, began + i / rate) for i in range(total)))
        elapsed = time.perf_counter() - began
    return {"target_rate": rate, "requests": total, "ok": len(latencies), "errors": errors,
            "throughput_rps": round(len(latencies) / elapsed, 1), **percentiles(latencies)}


async def closed_loop(url: str, headers: dict[str, str], bodies: list[dict[str, Any]] | None, concurrency: int,
                      seconds: float) -> dict[str, Any]:
    """``concurrency`` requests in flight for ``seconds``: POST each body in turn, or GET when ``bodies`` is None."""
    latencies: list[float] = []
    errors: dict[int, int] = {}
    stop = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        async def worker(offset: int) -> None:
            i = offset
            while time.perf_counter() < stop:
                sent = time.perf_counter()
                request = session.get(url) if bodies is None else session.post(url, json=bodies[i % len(bodies)])
                async with request as response:
                    await response.read()
                    if response.status == 200:
                        latencies.append(time.perf_counter() - sent)
                    else:
                        errors[response.status] = errors.get(response.status, 0) + 1
                i += concurrency

        began = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {"concurrency": concurrency, "seconds": round(elapsed, 1), "ok": len(latencies), "errors": errors,
            "throughput_rps": round(len(latencies) / elapsed, 1), **percentiles(latencies)}


WRK_SCRIPT = """
local bodies = {%(bodies)s}
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(token)s"}
local i = 0
request = function()
  i = i + 1
  if %(get)s then return wrk.format("GET", nil, headers, nil) end
  return wrk.format("POST", nil, headers, bodies[(i %% #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"ok": %%d, "non_2xx": %%d, "socket_errors": %%d, "us": %%d, "p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests - e.status, e.status, e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99)))
end
"""


def lua_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def wrk_loop(url: str, token: str, bodies: list[dict[str, Any]] | None, concurrency: int, seconds: float
             ) -> dict[str, Any]:
    """The closed loop of ``closed_loop`` driven by wrk (one thread, ``concurrency`` connections)."""
    script = WRK_SCRIPT % {"bodies": ", ".join(lua_string(json.dumps(b)) for b in bodies or []), "token": token,
                           "get": "true" if bodies is None else "false"}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        done = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "-s", handle.name, url],
                              capture_output=True, text=True, timeout=seconds + 60, check=True)
    finally:
        os.unlink(handle.name)
    line = next(row for row in done.stdout.splitlines() if row.startswith("WRK "))
    got = json.loads(line[4:])
    elapsed = got["us"] / 1e6
    errors = {k: got[k] for k in ("non_2xx", "socket_errors") if got[k]}
    return {"client": "wrk", "concurrency": concurrency, "seconds": round(elapsed, 1), "ok": got["ok"],
            "errors": errors, "throughput_rps": round(got["ok"] / elapsed, 1),
            "p50_ms": round(got["p50_us"] / 1000, 2), "p99_ms": round(got["p99_us"] / 1000, 2)}


def disk_flush(folder: Path, count: int = 100) -> dict[str, float]:
    """fdatasync of a 3 KB append on the workspace's file system, ``count`` times 3 ms apart: what each
    durable decision waits for at least once, so the latency figures can be read against the disk's state."""
    path = folder / ".bench-fdatasync"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    times = []
    try:
        for _ in range(count):
            os.write(fd, b"x" * 3000 + b"\n")
            began = time.perf_counter()
            os.fdatasync(fd)
            times.append(time.perf_counter() - began)
            time.sleep(0.003)
    finally:
        os.close(fd)
        path.unlink()
    return percentiles(times)


def in_process(workspace: Path, bodies: list[dict[str, Any]], count: int = 200) -> dict[str, float]:
    """The decision path without HTTP: scoring alone, then scoring + the audit append (fsync under a lock)."""
    from chainlight.config import Config
    from chainlight.risk.decide import DecisionService
    from chainlight.workspace import Workspace
    with Workspace(workspace, Config(), create=False, read_only=True) as ws:
        service = DecisionService.load(ws, Config())
    chosen = [bodies[i % len(bodies)] for i in range(count)]
    began = time.perf_counter()
    for body in chosen:
        service.compose_view(body["uscc"], body["amount"], "bench", "chain")
    compose = (time.perf_counter() - began) / count
    began = time.perf_counter()
    for body in chosen:
        service.decide(body["uscc"], body["amount"])
    decide = (time.perf_counter() - began) / count
    return {"score_ms": round(compose * 1000, 3), "decide_with_audit_ms": round(decide * 1000, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--firms", type=int, default=5_000)
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--saturate-seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto",
                        help="saturation client: wrk when installed (auto), always wrk, or only the Python one")
    args = parser.parse_args()
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    if use_wrk and shutil.which("wrk") is None:
        raise SystemExit("--client wrk: wrk is not installed (apt-get install wrk)")
    workspace = args.workspace or Path(tempfile.gettempdir()) / f"chainlight-bench-serve-{args.firms}"
    prepare(workspace, args.firms, pipeline.built_stages())
    with duckdb.connect(str(workspace / DB_FILE), read_only=True) as con:
        rows = con.execute("SELECT uscc, amount FROM applications ORDER BY application_id LIMIT 2000").fetchall()
    bodies = [{"uscc": uscc, "amount": float(amount)} for uscc, amount in rows]
    alone = in_process(workspace, bodies)
    flush = disk_flush(workspace)
    token = KeyStore(workspace).create("decider", "bench/serve.py")[1]
    headers = {"Authorization": f"Bearer {token}"}
    port = free_port()
    proc = start(workspace, args.workers, port)
    url = f"http://127.0.0.1:{port}/v1/decisions"
    try:
        asyncio.run(open_loop(url, headers, bodies, 100, 2))  # warm-up: imports, caches, connections
        steady = asyncio.run(open_loop(url, headers, bodies, args.rate, args.seconds))
        saturation, cpu_python = cpu_per_request(
            proc, lambda: asyncio.run(closed_loop(url, headers, bodies, args.concurrency, args.saturate_seconds)))
        # the same load on GET /healthz: what the HTTP stack alone sustains, to tell it from the decision path
        health = url.replace("/v1/decisions", "/healthz")
        stack = asyncio.run(closed_loop(health, headers, None, args.concurrency, args.saturate_seconds))
        wrk: dict[str, Any] = {}
        if use_wrk:
            wrk["saturation"], wrk["cpu_ms"] = cpu_per_request(
                proc, lambda: wrk_loop(url, token, bodies, args.concurrency, args.saturate_seconds))
            wrk["healthz"] = wrk_loop(health, token, None, args.concurrency, args.saturate_seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"workspace {workspace} ({args.firms:,} firms), {args.workers} worker(s), {os.cpu_count()} cores shared with the client, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"disk: fdatasync of a 3 KB append p50 {flush['p50_ms']} ms, p99 {flush['p99_ms']} ms (before the load)")
    print(f"steady {args.rate:.0f} req/s for {args.seconds:.0f} s: {steady['throughput_rps']} req/s achieved, "
          f"p50 {steady['p50_ms']} ms, p99 {steady['p99_ms']} ms, errors {steady['errors'] or 0}")
    for client, run in (("python client", saturation), *((("wrk", wrk["saturation"]),) if wrk else ())):
        print(f"saturation, {client} ({args.concurrency} in flight, {run['seconds']} s): {run['throughput_rps']} req/s, "
              f"p50 {run['p50_ms']} ms, p99 {run['p99_ms']} ms, errors {run['errors'] or 0}")
    if not wrk:
        print("saturation with wrk: not run (" + ("--client python" if args.client == "python" else "wrk not installed")
              + "); the Python client shares the cores with the service")
    print(f"server CPU per decision (all server processes, user + system, during saturation): python client run "
          f"{cpu_python} ms" + (f", wrk run {wrk['cpu_ms']} ms" if wrk else ""))
    print(f"in process, no HTTP: scoring {alone['score_ms']} ms, scoring + audit append {alone['decide_with_audit_ms']} ms "
          "per decision")
    print(f"HTTP stack alone (GET /healthz, same load): python client {stack['throughput_rps']} req/s, "
          f"p50 {stack['p50_ms']} ms" + (f"; wrk {wrk['healthz']['throughput_rps']} req/s, p50 {wrk['healthz']['p50_ms']} ms"
                                         if wrk else ""))
    print(json.dumps({"steady": steady, "saturation": saturation, "server_cpu_ms_per_decision": cpu_python,
                      "healthz": stack, "in_process": alone, "fdatasync": flush, "wrk": wrk or None}))


if __name__ == "__main__":
    main()
