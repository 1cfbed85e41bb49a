"""Throughput mock upstream: nginx serving canned OpenAI responses for POST.

nginx (one worker, access_log off) in a throw-away prefix directory:

    POST /v1/chat/completions          -> fixtures/chat_completion.json        (application/json)
    POST /stream/v1/chat/completions   -> fixtures/chat_completion_stream.sse  (text/event-stream)

Requests without ``Authorization: Bearer <UPSTREAM_KEY>`` get 401, so the
benchmark proves the proxy really forwards the upstream credential.

Static files are served for POST with the ``error_page 405 =200 $uri`` trick:
nginx's static handler answers POST with 405, and the error page is an internal
GET redirect to the same URI, served 200 from the docroot via sendfile.

Stand-alone use (foreground, bounded):

    python bench/transport/mock_upstream.py --port 18080 --seconds 600
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
UPSTREAM_KEY = "sk-bench-upstream"

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
worker_rlimit_nofile 65536;

events {{
    worker_connections 16384;
    multi_accept on;
}}

http {{
    access_log off;
    types {{ }}
    default_type application/json;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 300s;
    keepalive_requests 10000000;
    client_body_buffer_size 64k;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    etag off;
    server_tokens off;

    server {{
        listen 127.0.0.1:{port} backlog=4096 reuseport;
        root {prefix}/docroot;

        if ($http_authorization != "Bearer {key}") {{
            return 401 '{{"error":{{"message":"bad upstream key","type":"invalid_request_error"}}}}';
        }}

        # POST to a static file -> 405 -> internal GET redirect -> 200 + file.
        error_page 405 =200 $uri;

        location = /v1/chat/completions {{
            default_type application/json;
        }}
        location = /stream/v1/chat/completions {{
            default_type text/event-stream;
            add_header Cache-Control no-cache;
        }}
        location = /healthz {{
            return 200 'ok';
        }}
        location / {{
            return 404 '{{"error":{{"message":"not found"}}}}';
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NginxMock:
    """Owns one foreground nginx process (and its prefix dir)."""

    def __init__(self, port: int | None = None, cpu: str | None = "1", nginx: str = "nginx") -> None:
        self.port = port or free_port()
        self.cpu = cpu
        self.nginx = shutil.which(nginx) or nginx
        self.prefix = Path(tempfile.mkdtemp(prefix="weir-bench-nginx-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _write(self) -> Path:
        os.chmod(self.prefix, 0o755)  # worker may run as 'nobody' when we are root
        doc = self.prefix / "docroot"
        (doc / "v1" / "chat").mkdir(parents=True)
        (doc / "stream" / "v1" / "chat").mkdir(parents=True)
        shutil.copyfile(FIXTURES / "chat_completion.json", doc / "v1" / "chat" / "completions")
        shutil.copyfile(FIXTURES / "chat_completion_stream.sse", doc / "stream" / "v1" / "chat" / "completions")
        for p in [self.prefix, *self.prefix.rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        conf = self.prefix / "nginx.conf"
        conf.write_text(NGINX_CONF.format(prefix=self.prefix, port=self.port, key=UPSTREAM_KEY))
        return conf

    def start(self, timeout: float = 10.0) -> None:
        conf = self._write()
        cmd = [self.nginx, "-p", str(self.prefix), "-c", str(conf), "-e", str(self.prefix / "error.log")]
        if self.cpu is not None:
            cmd = ["taskset", "-c", self.cpu, *cmd]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"nginx exited with {self.proc.returncode}: {err}")
            try:
                with urllib.request.urlopen(
                    urllib.request.Request(self.url + "/healthz", headers={"Authorization": f"Bearer {UPSTREAM_KEY}"}),
                    timeout=1,
                ) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not become ready")

    def verify(self) -> None:
        """POST both endpoints, compare with the fixtures byte for byte; check 401."""
        for path, fixture, ctype in [
            ("/v1/chat/completions", "chat_completion.json", "application/json"),
            ("/stream/v1/chat/completions", "chat_completion_stream.sse", "text/event-stream"),
        ]:
            req = urllib.request.Request(
                self.url + path,
                data=(FIXTURES / "request.json").read_bytes(),
                method="POST",
                headers={"Authorization": f"Bearer {UPSTREAM_KEY}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=5) as r:
                body = r.read()
                assert r.status == 200, (path, r.status)
                assert r.headers.get("Content-Type", "").startswith(ctype), r.headers
            assert body == (FIXTURES / fixture).read_bytes(), f"{path}: body mismatch"
        req = urllib.request.Request(self.url + "/v1/chat/completions", data=b"{}", method="POST")
        try:
            urllib.request.urlopen(req, timeout=5)
            raise AssertionError("expected 401 without upstream key")
        except urllib.error.HTTPError as e:
            assert e.code == 401, e.code

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful; master reaps its worker
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=timeout)
        self.proc = None
        shutil.rmtree(self.prefix, ignore_errors=True)

    def __enter__(self) -> NginxMock:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=None)
    ap.add_argument("--cpu", default="1", help="taskset CPU list ('' = no pinning)")
    ap.add_argument("--seconds", type=float, default=600.0, help="stop after this long")
    args = ap.parse_args()

    def on_term(*_: object) -> None:
        raise KeyboardInterrupt  # so the with-block stops nginx

    signal.signal(signal.SIGTERM, on_term)
    with NginxMock(port=args.port, cpu=args.cpu or None) as mock:
        mock.verify()
        print(f"nginx mock on {mock.url} (prefix {mock.prefix}); key {UPSTREAM_KEY}", flush=True)
        try:
            deadline = time.monotonic() + args.seconds
            while time.monotonic() < deadline and mock.proc and mock.proc.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
