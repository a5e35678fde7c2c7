"""A scripted OpenAI-compatible server on loopback for testing the LLM client."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Script:
    """Replies in order; the last one repeats. A reply is (status, content, delay_s, headers)."""

    def __init__(self, *replies: tuple[int, str, float, dict[str, str]]) -> None:
        self.replies = list(replies)
        self.calls = 0
        self.bodies: list[dict] = []
        self.lock = threading.Lock()

    def next(self, body: dict) -> tuple[int, str, float, dict[str, str]]:
        with self.lock:
            self.bodies.append(body)
            reply = self.replies[min(self.calls, len(self.replies) - 1)]
            self.calls += 1
            return reply


def ok(content: str) -> tuple[int, str, float, dict[str, str]]:
    return 200, content, 0.0, {}


def completion(content: str) -> str:
    return json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}],
                       "usage": {"prompt_tokens": 50, "completion_tokens": 20}})


@contextmanager
def fake_llm(script: Script) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status, content, delay, headers = script.next(body)
            time.sleep(delay)
            payload = (completion(content) if status == 200 else json.dumps({"error": "scripted"})).encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            try:
                self.wfile.write(payload)
            except OSError:
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
