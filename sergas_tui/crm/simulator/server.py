"""Running the simulator on a loopback port with uvicorn.

:func:`serve` runs in the current thread until interrupted (``sergas`` demo commands);
:func:`start_in_thread` runs it in a background thread on a free port and returns once it
answers, for tests and benchmarks that need real HTTP.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn

from sergas_tui.crm.simulator.app import HEALTH_PATH, Simulator, create_simulator
from sergas_tui.crm.simulator.config import SimulatorConfig

START_TIMEOUT = 10.0


def _bind(host: str, port: int) -> tuple[socket.socket, str]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    return sock, f"http://{shown}:{bound_port}"


def _server(sim: Simulator) -> uvicorn.Server:
    return uvicorn.Server(
        uvicorn.Config(sim.app, log_level="warning", lifespan="off", access_log=False)
    )


def _announce(base_url: str) -> None:
    print(f"Zoho CRM simulator listening on {base_url}", file=sys.stderr, flush=True)


def serve(
    path: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    config: SimulatorConfig | None = None,
    *,
    on_ready: Callable[[str], None] = _announce,
) -> None:
    """Serve the org at ``path`` until interrupted; ``on_ready`` gets the base URL."""
    sim = create_simulator(path, config)
    sock, base_url = _bind(host, port)
    try:
        on_ready(base_url)
        _server(sim).run(sockets=[sock])
    finally:
        sock.close()
        sim.close()


def start_in_thread(
    path: Path | Simulator, config: SimulatorConfig | None = None
) -> tuple[str, Callable[[], None]]:
    """Serve on a free loopback port in a daemon thread; returns ``(base_url, stop)``.

    Pass a :class:`Simulator` instead of a path to keep access to its counters and faults
    (``stop`` then leaves it open); a simulator created here is closed by ``stop``.
    """
    owned = not isinstance(path, Simulator)
    sim = create_simulator(path, config) if not isinstance(path, Simulator) else path
    sock, base_url = _bind("127.0.0.1", 0)
    server = _server(sim)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="zoho-simulator", daemon=True
    )
    thread.start()

    def stop() -> None:
        server.should_exit = True
        thread.join(START_TIMEOUT)
        sock.close()
        if owned:
            sim.close()

    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            stop()
            raise RuntimeError("the Zoho simulator did not start")
        time.sleep(0.01)
    httpx.get(base_url + HEALTH_PATH, timeout=START_TIMEOUT).raise_for_status()
    return base_url, stop


__all__ = ["serve", "start_in_thread"]
