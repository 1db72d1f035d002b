"""kill -9 of `trace gen`'s main process in the middle of a real generation (the small model),
then the same command: every row exactly once, and no request the cache had answered is sent
to the model again (counted by a forwarding proxy in front of the real llama.cpp server)."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

from codealchemy.tracer.generators.cache import CACHE_FILE
from codealchemy.tracer.testing import check_rows

FILES = 12


class CountingProxy:
    """Forwards every request to the real server and counts the POSTs, by body."""

    def __init__(self, upstream: str):
        url = urllib.parse.urlsplit(upstream)
        self.host, self.port, self.bodies = url.hostname, url.port, Counter()
        lock, proxy = threading.Lock(), self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self, body: bytes | None) -> None:
                conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=300)
                conn.request(self.command, self.path, body=body,
                             headers={"Content-Type": self.headers.get("Content-Type", "application/json")})
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.getheader("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    proxy.bodies[body] += 1
                self._forward(body)

            def do_GET(self):
                self._forward(None)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def sent(self) -> int:
        return sum(self.bodies.values())


def _cached(cache: Path) -> int:
    import sqlite3

    with sqlite3.connect(cache / CACHE_FILE) as db:
        return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]


def test_kill_9_mid_generation_then_resume(llama_server, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(FILES):
        (corpus / f"p{i:02d}.py").write_text(f"def f{i}(x):\n    return x * {i + 2}\n\nprint(f{i}({i}))\n")
    proxy = CountingProxy(llama_server.base_url)
    cache, out = tmp_path / "cache", tmp_path / "rows.jsonl"
    argv = [sys.executable, "-m", "codealchemy.tracer.cli", "gen", "codedialogue", str(corpus), "--turns", "1",
            "--generator", "openai", "--option", f"base_url={proxy.base_url}", "--option",
            f"model={llama_server.model}", "--option", "api_key=", "--param", "max_tokens=24",
            "--shard-size", "1", "--out", str(out), "--cache-dir", str(cache), "--work-dir", str(tmp_path / "runs")]
    run = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    done = tmp_path / "runs"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and run.poll() is None:
        markers = list(done.glob("*/.pipeline/done/*.json"))
        if len(markers) >= 3:
            break
        time.sleep(0.02)
    assert run.poll() is None, f"the run ended before it could be killed: {run.stderr.read()}"
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    time.sleep(0.5)   # its worker dies with it (PR_SET_PDEATHSIG)
    marked = len(list(done.glob("*/.pipeline/done/*.json")))
    assert 3 <= marked < FILES and not out.exists()
    before, cached = proxy.sent(), _cached(cache)

    resumed = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    got = check_rows(out) + (check_rows(out.with_name("rows.jsonl.failures.jsonl"))
                             if out.with_name("rows.jsonl.failures.jsonl").exists() else [])
    ids = Counter(r["source_id"] for r in got)
    assert sorted(ids) == sorted(str(p) for p in corpus.iterdir()) and set(ids.values()) == {1}
    distinct = len(proxy.bodies)
    # every request the cache held at the kill came from it: only the others reached the model
    assert proxy.sent() - before == distinct - cached, (proxy.sent(), before, distinct, cached)
    assert cached >= marked   # at least each marked shard's question was cached
    print(f"killed after {marked}/{FILES} shards; {before} requests sent, {cached} cached at the kill; "
          f"resume sent {proxy.sent() - before} of {distinct} distinct requests")
    again = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and proxy.sent() == before + distinct - cached   # a rerun asks nothing
    assert json.loads((out.with_name("rows.jsonl.summary.json")).read_text())["rows"] == FILES
