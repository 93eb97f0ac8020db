"""`cpulab serve`: the app in a browser, answered over HTTP and a websocket on 127.0.0.1."""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from cpulab.cli.serve import app_arguments
from support.cli import cpulab

aiohttp = pytest.importorskip("aiohttp")  # comes with textual-serve, the `serve` extra


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


@pytest.fixture
def served(tmp_path):
    port = free_port()
    env = {**os.environ, "CPULAB_CONFIG": str(tmp_path / "settings.toml")}
    db = tmp_path / "results.sqlite"
    server = subprocess.Popen(
        [sys.executable, "-m", "cpulab", "--db", str(db), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            get(base + "/")
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"cpulab serve did not answer: {server.stdout.read().decode()}")
            time.sleep(0.2)
    yield base, server
    with contextlib.suppress(ProcessLookupError):  # a test may have stopped it
        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C, as a user stops it
    assert server.wait(timeout=30) is not None


def test_the_page_and_its_script_load(served):
    served, _ = served
    status, page = get(served + "/")
    assert status == 200 and "<div>cpulab</div>" in page  # the start screen names the app
    assert get(served + "/static/js/textual.js")[0] == 200


async def open_app(served: str, then) -> str:
    """Connect as a browser tab does; once the app has drawn, `then(ws)`."""
    drawn = ""
    async with aiohttp.ClientSession() as client:
        url = served.replace("http", "ws") + "/ws?width=100&height=30"
        async with client.ws_connect(url) as ws:
            deadline = time.monotonic() + 60
            while "Tasks" not in drawn and time.monotonic() < deadline:
                message = await ws.receive(timeout=60)
                if message.type == aiohttp.WSMsgType.BINARY:
                    drawn += message.data.decode(errors="replace")
            await then(ws)
    return drawn


def test_a_browser_connection_gets_the_app_and_q_ends_it(served):
    base, _ = served

    async def quit_it(ws) -> None:
        await ws.send_json(["stdin", "q"])
        closed = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        while (await ws.receive(timeout=30)).type not in closed:
            pass

    drawn = asyncio.run(open_app(base, quit_it))
    assert "Tasks" in drawn and "cpulab" in drawn  # the app itself, not the headless demo


def test_the_options_before_serve_are_the_apps():
    assert app_arguments(["--db", "x.sqlite", "--theme", "nord", "serve", "--port", "9"]) == [
        "--db", "x.sqlite", "--theme", "nord",
    ]  # fmt: skip
    assert app_arguments(["serve"]) == []
    assert app_arguments(["--db", "serve", "serve", "--host", "serve"]) == ["--db", "serve"]


def test_stopping_the_server_ends_every_app_it_started(served):
    base, server = served

    async def stop_the_server(ws) -> None:
        apps = psutil.Process(server.pid).children(recursive=True)
        assert any("cpulab" in " ".join(p.cmdline()) for p in apps)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        _, alive = psutil.wait_procs(apps, timeout=10)
        assert alive == []

    drawn = asyncio.run(open_app(base, stop_the_server))
    assert "Tasks" in drawn


@pytest.mark.parametrize("where", ["port in use", "not this machine", "no such host"])
def test_an_address_it_cannot_listen_on_is_one_line_and_status_2(tmp_path, where):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = {
            "port in use": ["--port", str(taken.getsockname()[1])],
            "not this machine": ["--host", "203.0.113.1"],  # TEST-NET-3: nobody's
            "no such host": ["--host", "no such host!"],
        }[where]
        done = cpulab("--db", str(tmp_path / "r.sqlite"), "serve", *address, timeout=30)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""  # it never says it serves
    assert done.stderr.startswith("cpulab: error: cannot serve on ")
    assert done.stderr.count("\n") == 1
