from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance.clients import _node

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
NODE_CLIENTS = REPO / "conformance" / "clients" / "node"
# Real providers' recorded answers: shared/ beside the checkout (as CI lays it), else the
# workplace's copy. A regression corpus for the tests, never special-cased in the code.
RECORDED = REPO.parent / "shared" / "recorded"
if not RECORDED.is_dir():
    RECORDED = Path("/work/shared/recorded")
NPM_TIMEOUT_S = 600  # npm ci of four pinned packages on a fresh machine
INSTALL_LOCK = ".install.lock"  # held while one test process runs npm ci (.gitignore)
INSTALLED = NODE_CLIENTS / _node.INSTALLED  # npm writes it last


def _install_node_clients() -> str | None:
    """``npm ci`` the pinned Node clients when missing and possible; why not, when not.
    One test process installs; the others (pytest-xdist's workers) wait for it."""
    if INSTALLED.is_file():
        return None
    with (NODE_CLIENTS / INSTALL_LOCK).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if INSTALLED.is_file():
            return None  # another worker installed them while this one waited
        return _npm_ci()


def _npm_ci() -> str | None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return (
            "Node.js and npm are not installed: the openai-node and AI SDK replays need them "
            f"(then: npm ci --prefix {NODE_CLIENTS})"
        )
    env = {**os.environ, "npm_config_audit": "false", "npm_config_fund": "false"}
    try:
        proc = subprocess.run(
            [npm, "ci", "--prefix", str(NODE_CLIENTS)],
            env=env,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"npm ci --prefix {NODE_CLIENTS} took longer than {NPM_TIMEOUT_S} s"
    if proc.returncode != 0:
        return f"npm ci --prefix {NODE_CLIENTS} failed ({proc.returncode}): {proc.stderr[-500:]}"
    return None


def pytest_configure(config: pytest.Config) -> None:
    """Install the Node clients once, before any test (and before pytest-xdist's workers
    start): the runs that replay without asking for ``node_clients`` find them ready."""
    if not hasattr(config, "workerinput"):
        _install_node_clients()


@pytest.fixture(scope="session")
def node_clients() -> Path:
    """The pinned Node clients (openai-node, the AI SDK), installed on first use."""
    why = _install_node_clients()
    if why is not None:
        pytest.skip(why)
    return NODE_CLIENTS
