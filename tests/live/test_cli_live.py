"""`conformance run` against live-endpoint trouble, as a user meets it: real processes,
real sockets, real signals, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest

from tests.e2e.conftest import CANARY, clean_env, free_port, load_results, run_cli, serving
from tests.live.helpers import handled_by

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_an_echoed_canary_key_appears_in_no_file_and_no_output(tmp_path):
    with serving("--fault", "echo-auth") as url:
        out = tmp_path / "reports"
        proc = run_cli(
            "run", "--base-url", url, "--model", "conformance/reference-1",
            "--report-dir", str(out), "--verbose",
            env=clean_env(CONFORMANCE_API_KEY=CANARY),
        )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    written = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"report.html", "results.json", "junit.xml"}
    data = load_results(out)
    assert any("x-echo-authorization" in e["response"]["headers"] for e in data["exchanges"]
               if e["response"])  # fmt: skip
    for path in written:
        assert CANARY not in path.read_text(errors="replace"), path
    assert CANARY not in proc.stdout + proc.stderr


def test_a_key_over_plain_http_to_a_remote_host_needs_the_flag(tmp_path):
    proc = run_cli(
        "run", "--base-url", "http://api.example.com/v1", "--model", "m",
        "--report-dir", str(tmp_path), env=clean_env(CONFORMANCE_API_KEY="sk-x"),
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr == (
        "conformance: error: --base-url 'http://api.example.com/v1' is plain http to a host "
        "that is not this machine: the API key would cross the network unencrypted. Use "
        "https, or pass --allow-insecure-http if that is really what you want.\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_embedded_server_switches_are_refused_with_a_real_endpoint(tmp_path):
    proc = run_cli(
        "run", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--latency", "300ms",
        "--report-dir", str(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "conformance: error: --latency applies to the embedded reference server only"
    )
    proc = run_cli("run", "--fault", "no-such-fault", "--report-dir", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.startswith("conformance: error: --fault 'no-such-fault' is unknown.")


def tls_files(tmp_path):
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "conformance test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path):
    """The reference server behind a self-signed certificate, in a thread."""
    import threading

    import uvicorn

    from conformance.server import ServerConfig, create_app

    cert, key = tls_files(tmp_path)
    port = free_port()
    config = uvicorn.Config(
        create_app(ServerConfig(api_key=CANARY)), host="127.0.0.1", port=port,
        ssl_certfile=str(cert), ssl_keyfile=str(key), log_level="error", lifespan="off",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield f"https://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(10)


def test_an_unverifiable_certificate_is_one_line_and_insecure_is_explicit(tmp_path, tls_server):
    env = clean_env(CONFORMANCE_API_KEY=CANARY)
    args = ("run", "--base-url", tls_server, "--model", "conformance/reference-1", "-q")
    out = tmp_path / "verified"
    proc = run_cli(*args, "--report-dir", str(out), env=env)
    assert proc.returncode == 3, proc.stderr
    [line, *_] = proc.stderr.splitlines()
    port = tls_server.split(":")[2].split("/")[0]
    assert line.startswith(
        f"conformance: cannot reach the endpoint at {tls_server}/chat/completions: TLS "
        f"certificate of 127.0.0.1:{port} could not be verified: "
    )
    assert line.endswith("--insecure skips verification, for test servers only.")
    assert "Traceback" not in proc.stderr

    out = tmp_path / "insecure"
    proc = run_cli(*args, "--insecure", "-k", "response_schema", "--report-dir", str(out), env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = load_results(out)
    assert data["network"]["tls_verify"] is False
    assert "certificates not verified (insecure)" in (out / "report.html").read_text()


def ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as `cmd &` in a script does


def start_run(tmp_path, *args, sigint_ignored=False):
    out = tmp_path / "reports"
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance", "run", "--report-dir", str(out), *args],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ignore_sigint if sigint_ignored else None,  # noqa: PLW1509 - one call
    )
    return proc, out


@pytest.mark.parametrize(
    ("signum", "sigint_ignored"),
    [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGTERM, True)],
)
def test_a_signal_mid_run_writes_what_was_gathered_whole_and_exits_130(
    tmp_path, signum, sigint_ignored
):
    # Streams stall for 30 s: the run is surely mid-way when the signal comes.
    proc, out = start_run(
        tmp_path, "--fault", "stall-mid-stream", "--idle-timeout", "30",
        sigint_ignored=sigint_ignored,
    )  # fmt: skip
    try:
        first = proc.stderr.readline()  # the first progress line: the preflight is done
        assert " requests" in first, first
        time.sleep(0.3)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()  # closes the pipes: left to the GC, they warn in a later test
    assert proc.returncode == 130, stdout + stderr
    name = signal.Signals(signum).name
    assert (
        f"conformance: interrupted by {name}: the results gathered so far are in {out} "
        "(marked partial)"
    ) in stderr
    assert "Traceback" not in stderr
    data = load_results(out)
    assert data["partial"] is True
    assert data["network"]["interrupted"] == name
    assert f"interrupted by {name}: the results are those gathered until then" in data["notes"]
    assert data["exchanges"]  # the answers that came before the signal are kept
    assert (out / "report.html").read_text().rstrip().endswith("</html>")
    assert (out / "junit.xml").read_text().rstrip().endswith("</testsuites>")
    assert sorted(p.name for p in out.iterdir()) == ["junit.xml", "report.html", "results.json"]


def test_plain_progress_lines_when_not_a_terminal_and_quiet_and_verbose(tmp_path):
    proc = run_cli("run", "--report-dir", str(tmp_path / "a"), "-k", "usage_arithmetic")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("conformance: 0/1 checks, 1/")  # the preflight's request
    assert lines[-1].startswith("conformance: 1/1 checks, ")
    assert " tokens, area usage, " in lines[-1]
    data = load_results(tmp_path / "a")
    areas = data["areas"]  # what each area cost adds up to the run's totals
    # one exchange per request: the probes of the check, sampled ones once per trial
    assert sum(a["requests"] for a in areas.values()) == data["requests"] == len(data["exchanges"])
    assert sum(a["tokens"] for a in areas.values()) == data["tokens"]["total"] > 0
    assert sum(a["checks"] for a in areas.values()) == len(data["checks"]) == 1
    assert data["faults"] == []

    proc = run_cli("run", "--report-dir", str(tmp_path / "b"), "-k", "usage_arithmetic", "-q")
    assert proc.returncode == 0
    assert proc.stderr == ""
    assert proc.stdout.splitlines()[0].startswith("conformance: conformant: 1 check (1 PASS);")

    proc = run_cli("run", "--report-dir", str(tmp_path / "c"), "-k", "usage_arithmetic", "-v")
    assert proc.returncode == 0
    assert "conformance: chat_stream_usage -> 200 text/event-stream, " in proc.stderr
    assert "conformance: PASS  usage_arithmetic" in proc.stderr
    assert "suite.py" not in proc.stdout + proc.stderr  # no pytest item names, even with -v
    assert "PASSED" not in proc.stdout + proc.stderr


def test_a_terminal_gets_a_live_line_that_goes_away(tmp_path):
    import pty

    out = tmp_path / "reports"
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command on a pseudo-terminal
        os.environ.pop("CI", None)
        os.environ["TERM"] = "xterm"
        os.execv(  # noqa: S606 - our own command, in the pty child
            sys.executable,
            [sys.executable, "-m", "conformance", "run", "--report-dir", str(out),
             "--latency", "600ms", "-k", "usage_arithmetic"],
        )  # fmt: skip
    chunks = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = b"".join(chunks).decode("utf-8", errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text[-3000:]
    assert "\x1b[?25l" in text  # the cursor hidden while the live line shows
    assert " checks, " in text
    assert " requests, " in text
    assert "ETA " in text
    assert "[32m." not in text  # pytest's coloured dots never reach the terminal
    assert text.rstrip().splitlines()[-1].startswith("conformance: report: ")
    data = json.loads((out / "results.json").read_text())
    assert data["verdict"] == "conformant"


def test_a_first_request_that_never_gets_past_429_stops_the_run_in_one_line(tmp_path):
    proc = run_cli(
        "run", "--fault", "rate-limit-always", "--retries", "1", "--report-dir", str(tmp_path)
    )
    assert proc.returncode == 3
    [line] = proc.stderr.splitlines()
    assert line.startswith("conformance: the endpoint at http://127.0.0.1:")
    assert line.endswith(
        "/v1/chat/completions kept answering 429 Too Many Requests (2 attempts): nothing can "
        "be concluded now. Wait and run again, or lower --concurrency or set --rate-limit."
    )
    data = load_results(tmp_path)
    assert data["requests"] == 2
    assert [f["kind"] for f in data["faults"]] == ["rate-limited"]


def test_a_model_the_endpoint_does_not_serve_exits_2_with_one_line(tmp_path):
    (tmp_path / "report.html").write_text("<html>the previous run</html>")
    (tmp_path / "junit.xml").write_text("<testsuites/>")
    with serving() as url:
        proc = run_cli(
            "run", "--base-url", url, "--model", "nope", "--report-dir", str(tmp_path),
            env=clean_env(CONFORMANCE_API_KEY=CANARY),
        )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.splitlines()
    assert line == (
        "conformance: model 'nope' not found: the endpoint answered 404 (The model 'nope' does "
        "not exist. This server serves: conformance/reference-1.). It lists: "
        "conformance/reference-1. Pass one of them with --model."
    )
    # the previous run's report and JUnit file do not stay beside the new results.json
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
    data = load_results(tmp_path)
    assert data["notes"][0] == line.removeprefix("conformance: ")
    assert (data["verdict"], data["exit_code"]) == ("inconclusive", 2)


class Redirecting(BaseHTTPRequestHandler):
    """Every request: 307 to the same path on another host (which must never be asked)."""

    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_POST(self):
        Redirecting.seen.append((self.path, self.headers.get("authorization")))
        self.send_response(307)
        self.send_header("Location", f"https://other.example.test{self.path}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST

    def log_message(self, *args):
        pass


def test_an_endpoint_that_redirects_stops_after_the_preflight_with_where_and_exit_3(tmp_path):
    with handled_by(Redirecting) as url:
        proc = run_cli(
            "run", "--base-url", url, "--model", "m", "--report-dir", str(tmp_path),
            env=clean_env(CONFORMANCE_API_KEY=CANARY),
        )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    [line] = proc.stderr.splitlines()
    assert line == (
        f"conformance: the endpoint at {url}/chat/completions redirects (307) to "
        "https://other.example.test/v1/chat/completions: the request was not followed (the API "
        "key is not sent on to another address). Check --base-url (scheme, host and the /v1 "
        "path); if the new address is the endpoint's and you trust it, use it as --base-url."
    )
    assert Redirecting.seen == [("/v1/chat/completions", f"Bearer {CANARY}")]


ESCAPES = "\x1b[2J\x1b]0;pwned\x07\r\x9b31m\u202e"
CONTROLS = "\x1b\x07\r\x9b\u202e"  # the control characters in ESCAPES


class Hostile(BaseHTTPRequestHandler):
    """Every request: 500 with an error message full of terminal control sequences."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = json.dumps({"error": {"message": f"{ESCAPES} boom"}}).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Note", "\x1b[2J")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_no_control_character_an_endpoint_sends_reaches_the_terminal_or_junit(tmp_path):
    with handled_by(Hostile) as url:
        proc = run_cli(
            "run", "--base-url", url, "--model", "m", "--report-dir", str(tmp_path),
            "--retries", "0", "--verbose", env=clean_env(CONFORMANCE_API_KEY=CANARY),
        )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-2000:]
    shown = proc.stdout + proc.stderr
    # one cause for every 500 (the values, escaped, are in junit.xml and the report)
    assert "conformance: cause: every request (" in shown
    junit = (tmp_path / "junit.xml").read_text()
    assert "500: \\x1b[2J\\x1b]0;pwned\\x07" in junit
    for text in (shown, junit):
        assert not any(ch in text for ch in CONTROLS)
    compare = run_cli("compare", str(tmp_path / "results.json"), "--format", "markdown")
    assert compare.returncode == 0, compare.stderr
    assert not any(ch in compare.stdout for ch in CONTROLS)
