"""`hanprompt view` on another loopback address, and ids in URLs: a real server, a real HTTP client.

The viewer answers the Host it is bound to (and ``localhost`` on 127.0.0.1), refuses any other
(DNS rebinding), and answers an id that cannot exist with a 404 page before any query.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")


@pytest.fixture
def serve(sample_log):
    """Start ``hanprompt view --port 0`` over the sample log on a host; yields (base URL, port)."""
    procs = []

    def start(host: str):
        proc = subprocess.Popen(
            [sys.executable, "-m", "hanprompt", "view", "--host", host, "--port", "0", "--db", sample_log.url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
        )
        procs.append(proc)
        deadline = time.monotonic() + 120
        line = ""
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            found = re.search(r"viewer at (http://\S+/)", line)
            if found:
                url = found.group(1)
                return url, int(url.rsplit(":", 1)[1].strip("/"))
            if proc.poll() is not None:
                break
        pytest.fail(f"the viewer did not start on {host}: {line}{proc.stderr.read() if proc.poll() is not None else ''}")

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()


def test_a_viewer_on_127_0_0_2_answers_its_own_address(serve, sample_log):
    url, port = serve("127.0.0.2")
    assert url == f"http://127.0.0.2:{port}/"
    with httpx.Client(timeout=60) as client:
        page = client.get(url)
        assert page.status_code == 200, page.text[:300]
        assert "Invalid host header" not in page.text
        run = client.get(f"{url}runs/{sample_log.experiment}")
        assert run.status_code == 200
        # Another name for the same address is refused: a rebinding site sends its own Host.
        refused = client.get(url, headers={"Host": f"attacker.example:{port}"})
        assert refused.status_code == 400 and "Invalid host header" in refused.text
        # localhost resolves to 127.0.0.1, not to this address: not a name of this viewer
        assert client.get(url, headers={"Host": f"localhost:{port}"}).status_code == 400


def test_the_default_address_answers_localhost_too(serve):
    url, port = serve("127.0.0.1")
    with httpx.Client(timeout=60) as client:
        assert client.get(url).status_code == 200
        assert client.get(url, headers={"Host": f"localhost:{port}"}).status_code == 200
        assert client.get(url, headers={"Host": f"127.0.0.2:{port}"}).status_code == 400
        assert client.get(url, headers={"Host": "evil.example"}).status_code == 400


def test_ids_that_cannot_exist_are_404_pages(serve, sample_log):
    url, _ = serve("127.0.0.1")
    huge = "99999999999999999999999"
    with httpx.Client(timeout=60) as client:
        for path in (f"generations/{huge}", f"runs/{huge}", "runs/0", "runs/-3", "generations/2147483648",
                     f"?before={huge}", f"generations?run={huge}", f"compare?a={sample_log.experiment}&b={huge}",
                     f"runs/{sample_log.experiment}?after={huge}"):
            page = client.get(url + path)
            assert page.status_code == 404, (path, page.status_code, page.text[:300])
            assert "is not an id" in page.text, path
        # an id in range that names nothing is a 404 too, and a real one is served
        assert client.get(f"{url}generations/2147483647").status_code == 404
        assert client.get(f"{url}generations/{sample_log.korean_generation}").status_code == 200
