"""One client for any OpenAI-compatible endpoint (llama.cpp server, vLLM, Ollama, hosted APIs).

Structured output against a pydantic JSON schema (``response_format`` with the schema, as llama.cpp
and vLLM accept), validated on return; retries with exponential back-off on 429, 5xx, timeouts and
refused connections (``Retry-After`` honoured); bounded concurrency; a persistent cache keyed by
(model, prompt version, schema, input) so a re-run makes no calls; a call and token budget per run.
The API key is sent as a bearer token and never logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from chainlight.config import LLMSettings
from chainlight.errors import LLMUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass
class LLMStats:
    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0
    invalid_outputs: int = 0
    budget_skipped: int = 0
    tokens_in: int = 0
    tokens_out: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class ResponseCache:
    """SQLite key → response text; safe across threads (one connection per call, WAL mode)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, response TEXT NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def get(self, key: str) -> str | None:
        with self._connect() as con:
            row = con.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, response: str) -> None:
        with self._connect() as con:
            con.execute("INSERT OR REPLACE INTO responses VALUES (?, ?)", (key, response))


class LLMClient:
    def __init__(self, settings: LLMSettings, cache_path: Path, *, backoff_s: float = 0.5) -> None:
        if not settings.base_url:
            raise LLMUnavailable("no LLM endpoint configured (llm.base_url)")
        self.settings = settings
        self.cache = ResponseCache(cache_path)
        self.stats = LLMStats()
        self.backoff_s = backoff_s
        self._lock = threading.Lock()
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        self.http = httpx.Client(base_url=settings.base_url.rstrip("/"), headers=headers,
                                 timeout=httpx.Timeout(settings.timeout_s))

    def close(self) -> None:
        self.http.close()

    def cache_key(self, prompt_version: str, schema: type[BaseModel], text: str) -> str:
        material = json.dumps([self.settings.model, prompt_version, schema.model_json_schema(), text],
                              ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def _reserve(self) -> bool:
        with self._lock:
            spent = self.stats.tokens_in + self.stats.tokens_out
            if self.stats.calls >= self.settings.max_calls or spent >= self.settings.max_tokens:
                self.stats.budget_skipped += 1
                return False
            self.stats.calls += 1
            return True

    def complete(self, prompt_version: str, system: str, text: str, schema: type[T]) -> T | None:
        """The validated structured answer, or None (over budget, endpoint failing, invalid output)."""
        key = self.cache_key(prompt_version, schema, text)
        cached = self.cache.get(key)
        if cached is not None:
            with self._lock:
                self.stats.cache_hits += 1
            return self._parse(cached, schema)
        if not self._reserve():
            return None
        body = {"model": self.settings.model, "temperature": 0, "max_tokens": 512,
                "messages": [{"role": "system", "content": system}, {"role": "user", "content": text}],
                "response_format": {"type": "json_object", "schema": schema.model_json_schema()}}
        content = self._post(body)
        if content is None:
            return None
        parsed = self._parse(content, schema)
        if parsed is not None:
            self.cache.put(key, content)
        return parsed

    def _post(self, body: dict) -> str | None:
        for attempt in range(self.settings.retries + 1):
            try:
                response = self.http.post("/chat/completions", json=body)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                retry_after = None
                log.warning("LLM request failed (%s), attempt %d", type(exc).__name__, attempt + 1)
            else:
                if response.status_code == 200:
                    return self._content(response)
                if response.status_code not in RETRY_STATUS:
                    log.warning("LLM endpoint answered %d; not retrying", response.status_code)
                    break
                retry_after = response.headers.get("Retry-After")
            if attempt < self.settings.retries:
                with self._lock:
                    self.stats.retries += 1
                delay = float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() \
                    else self.backoff_s * 2 ** attempt
                time.sleep(min(delay, 30.0))
        with self._lock:
            self.stats.failures += 1
        return None

    def _content(self, response: httpx.Response) -> str | None:
        try:
            payload = response.json()
            usage = payload.get("usage") or {}
            with self._lock:
                self.stats.tokens_in += int(usage.get("prompt_tokens") or 0)
                self.stats.tokens_out += int(usage.get("completion_tokens") or 0)
            return str(payload["choices"][0]["message"]["content"])
        except (ValueError, KeyError, IndexError, TypeError):
            with self._lock:
                self.stats.invalid_outputs += 1
            return None

    def _parse(self, content: str, schema: type[T]) -> T | None:
        try:
            return schema.model_validate_json(content)
        except ValidationError:
            with self._lock:
                self.stats.invalid_outputs += 1
            return None

    def map(self, prompt_version: str, system: str, texts: Sequence[str], schema: type[T]) -> list[T | None]:
        """Many requests with at most ``llm.concurrency`` in flight; results in input order."""
        with ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool:
            return list(pool.map(lambda t: self.complete(prompt_version, system, t, schema), texts))
