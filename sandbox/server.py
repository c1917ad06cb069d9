"""Runs the sandbox with uvicorn; shared by `python -m sandbox` and the service's own CLI."""

from __future__ import annotations

import uvicorn

from sandbox.app import create_sandbox_app
from sandbox.config import SandboxConfig
from sandbox.state_file import StateFileError


def run(host: str = "127.0.0.1", port: int = 8001, config: SandboxConfig | None = None) -> None:
    """Serve until interrupted. Loopback by default: the sandbox has no auth on /control.

    A state file that cannot be used stops the start with its message (exit status 1).
    """
    try:
        app = create_sandbox_app(config or SandboxConfig())
    except StateFileError as exc:
        raise SystemExit(f"sandbox: {exc}") from None
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
