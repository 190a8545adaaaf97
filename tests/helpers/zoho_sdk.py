"""`sergas demo serve` in a subprocess, for clients that talk to it over HTTP."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

SERGAS = [sys.executable, "-m", "sergas_tui"]


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SERGAS_CONFIG_DIR=str(root / "config"),
        SERGAS_DATA_DIR=str(root / "data"),
        SERGAS_LOG_DIR=str(root / "logs"),
    )
    return env


def _wait_healthy(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("sergas demo serve exited before answering")
        try:
            if httpx.get(f"{url}/__simulator/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("sergas demo serve did not answer within 60 s")


@contextlib.contextmanager
def demo_serve(root: Path, *options: str) -> Iterator[str]:
    """``sergas demo serve --port 0`` of the workspace under ``root``; yields its base URL."""
    process = subprocess.Popen(
        [*SERGAS, "demo", "serve", "--port", "0", *options],
        env=_env(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, f"no URL in {line!r}"
        url = match.group(0)
        _wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
