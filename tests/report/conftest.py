"""Fixtures for the report, gating and comparison tests: real runs over real sockets, and
a real headless Chromium (Debian's package) driven by Playwright.

The runs are made once per session: a clean reference server and one with a defect,
both `conformance serve` processes that require the canary key, tested by `conformance
run` in subprocesses exactly as a user would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CANARY, clean_env, run_cli, serving

CHROMIUM = Path("/usr/bin/chromium")
APT_TIMEOUT_S = 900  # apt-get update + install chromium on a fresh machine
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def run_against(base_url: str, report_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "run",
        "--base-url",
        base_url,
        "--model",
        "conformance/reference-1",
        "--report-dir",
        str(report_dir),
        *extra,
        env=clean_env(CONFORMANCE_API_KEY=CANARY),
    )


@dataclass
class Runs:
    """Two runs and their comparison, all under ``root`` (``clean/``, ``defective/``)."""

    root: Path
    clean: Path
    defective: Path
    outputs: dict[str, subprocess.CompletedProcess[str]]

    @property
    def compare_html(self) -> Path:
        return self.root / "compare.html"


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("runs")
    outputs: dict[str, Any] = {}
    with serving() as clean_url, serving("--defect", "bad-usage-total") as defective_url:
        outputs["clean"] = run_against(clean_url, root / "clean")
        outputs["defective"] = run_against(defective_url, root / "defective")
    outputs["compare"] = run_cli(
        "compare",
        str(root / "clean" / "results.json"),
        str(root / "defective" / "results.json"),
        "-o",
        str(root / "compare.html"),
    )
    for name, proc in outputs.items():
        assert proc.returncode == (1 if name == "defective" else 0), proc.stdout + proc.stderr
    return Runs(root=root, clean=root / "clean", defective=root / "defective", outputs=outputs)


def _install_chromium() -> str | None:
    """Install Debian's chromium when missing and possible; why not, when it is not."""
    if CHROMIUM.exists():
        return None
    apt = shutil.which("apt-get")
    if apt is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return (
            f"{CHROMIUM} is missing and cannot be installed here (needs apt-get as root); "
            "install Debian's chromium package to run the browser tests"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    deadline = time.monotonic() + APT_TIMEOUT_S
    for args in ([apt, "update"], [apt, "install", "-y", "--no-install-recommends", "chromium"]):
        left = deadline - time.monotonic()
        try:
            proc = subprocess.run(
                args, env=env, capture_output=True, text=True, timeout=max(left, 1), check=False
            )
        except subprocess.TimeoutExpired:
            return f"installing chromium took longer than {APT_TIMEOUT_S} s: {' '.join(args)}"
        if proc.returncode != 0:
            return f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}"
    return None if CHROMIUM.exists() else f"apt-get installed chromium but {CHROMIUM} is missing"


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium, installed on first use when the machine lacks it."""
    why = _install_chromium()
    if why is not None:
        pytest.skip(why)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium_path: Path) -> Iterator[Any]:
    """One headless Chromium per test module (Playwright gives each launch a fresh,
    empty profile directory; Playwright's own browser downloads are never used)."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed: pip install -e '.[test]'"
    )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Visit:
    """A page opened in the browser, with what it logged and asked for."""

    page: Any
    console_errors: list[str]
    requests: list[str]


@contextmanager
def visit(
    browser: Any, path: Path, *, javascript: bool = True, media: str = "screen"
) -> Iterator[Visit]:
    context = browser.new_context(
        java_script_enabled=javascript, viewport={"width": 1280, "height": 900}
    )
    try:
        page = context.new_page()
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        context.on("request", lambda r: requests.append(r.url))
        page.emulate_media(media=media)
        page.goto(path.as_uri(), wait_until="load")
        yield Visit(page, errors, requests)
    finally:
        context.close()


def keep_screenshot(source: Path) -> None:
    """Copy a screenshot to $CONFORMANCE_SCREENSHOT_DIR when set (a CI artifact)."""
    target = os.environ.get("CONFORMANCE_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(source, Path(target) / source.name)
