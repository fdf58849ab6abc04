"""Real services for integration tests: use them when present; skip with a reason, or fail when CI=true."""

from __future__ import annotations

import os
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or, in CI, fail) the calling test when a real service is not listening."""
    if reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it (start it, see README 'Services').")
    pytest.skip(f"{message}; start it to run this integration test (in CI this is a failure).")
