"""``--executor dask://HOST:PORT`` fails fast, in one line, and names what it found.

Before, a plain HTTP server at the address hung the command with no output for minutes;
a refused port, an unresolvable host or port 99999 each took about 30 s and ended in a
long traceback.  Now the address is probed before any work: the port range is validated,
the connection has a timeout (``--connect-timeout``, default 10 s), and a server that does
not greet like a dask scheduler is named.  Every server here listens on loopback only.
"""

import http.server
import inspect
import socket
import threading
import time

import fault_experiment
import pytest

from simulations import registry
from simulations.cli import build_parser, main
from simulations.sweep import ExecutorError, make_executor

NAME = fault_experiment.NAME


@pytest.fixture
def toy():
    registry.register_module(fault_experiment)
    registry.all_experiments()  # import every experiment before timing the command
    yield fault_experiment
    registry.unregister(NAME)


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args):
        return None


@pytest.fixture
def http_port():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_port():
    """A port that accepts connections (kernel backlog) but never says anything."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.fixture
def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def _one_line_error(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("python -m simulations: error: "), err
    return lines[0]


def _run(tmp_path, address, *extra):
    start = time.monotonic()
    code = main(["run", NAME, "--quick", "--executor", f"dask://{address}", "--out",
                 str(tmp_path), *extra])
    return code, time.monotonic() - start


def test_a_plain_http_server_is_detected_and_named(toy, tmp_path, capsys, http_port):
    code, took = _run(tmp_path, f"127.0.0.1:{http_port}", "--connect-timeout", "2")
    assert code == 2 and took < 8, took
    line = _one_line_error(capsys.readouterr().err)
    assert f"127.0.0.1:{http_port}" in line and "HTTP server" in line and "not a dask" in line
    assert not (tmp_path / NAME / "records.jsonl").exists()


def test_a_silent_server_times_out_after_the_connect_timeout(toy, tmp_path, capsys, silent_port):
    code, took = _run(tmp_path, f"127.0.0.1:{silent_port}", "--connect-timeout", "1")
    assert code == 2 and 0.9 < took < 6, took
    line = _one_line_error(capsys.readouterr().err)
    assert f"127.0.0.1:{silent_port}" in line and "1 s" in line and "dask" in line


def test_a_refused_port_fails_at_once(toy, tmp_path, capsys, closed_port):
    code, took = _run(tmp_path, f"127.0.0.1:{closed_port}")
    assert code == 2 and took < 5, took
    line = _one_line_error(capsys.readouterr().err)
    assert f"127.0.0.1:{closed_port}" in line and "refused" in line


def test_an_unresolvable_host_fails_at_once(toy, tmp_path, capsys, monkeypatch):
    def no_dns(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    code, took = _run(tmp_path, "scheduler.invalid:8786")
    assert code == 2 and took < 5
    line = _one_line_error(capsys.readouterr().err)
    assert "scheduler.invalid" in line and "resolve" in line


@pytest.mark.parametrize("address", ["127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:-1",
                                     ":8786", "127.0.0.1:", "127.0.0.1:http"])
def test_bad_addresses_are_refused_by_the_parser(toy, tmp_path, capsys, address):
    code, took = _run(tmp_path, address)
    assert code == 2 and took < 2
    line = _one_line_error(capsys.readouterr().err)
    assert "dask://HOST:PORT" in line or "port" in line


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "abc", "100000"])
def test_bad_connect_timeouts_exit_2(toy, tmp_path, capsys, value):
    code, _ = _run(tmp_path, "127.0.0.1:8786", "--connect-timeout", value)
    assert code == 2
    assert "--connect-timeout" in _one_line_error(capsys.readouterr().err)


def test_the_default_connect_timeout_is_10_seconds():
    args = build_parser().parse_args(["run", "x"])
    assert args.connect_timeout == 10.0
    assert inspect.signature(make_executor).parameters["connect_timeout"].default == 10.0


def test_the_python_api_fails_fast_too(closed_port, http_port):
    with pytest.raises(ValueError, match="port"):
        with make_executor("dask://127.0.0.1:99999"):
            pass
    start = time.monotonic()
    with pytest.raises(ExecutorError, match="refused"):
        with make_executor(f"dask://127.0.0.1:{closed_port}", connect_timeout=1):
            pass
    with pytest.raises(ExecutorError, match="HTTP server"):
        with make_executor(f"dask://127.0.0.1:{http_port}", connect_timeout=1):
            pass
    assert time.monotonic() - start < 8
