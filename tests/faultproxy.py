"""A fault-injecting HTTP proxy on 127.0.0.1, in front of any server (the fake cloud, or another one).

It forwards every request to the upstream server and can spoil a request either *before* forwarding it
(the server never sees it) or *after* (the server acted, then the reply is lost or spoiled): this is what
turns a lost reply into a second paid job when a client retries blindly.

    proxy = FaultProxy(cloud.base_url).start()
    proxy.fault("POST", r"/fine_tuning/jobs$", "500", when="after")

kinds: 500, 502, 429 (Retry-After: 0), drop (close the connection without a reply), slow (sleep `delay`
seconds, then reply: past the client's timeout the reply is lost), malformed (200 with a truncated JSON
body), html (200 with an HTML body), 403_training_not_available, empty (200 with `{}`).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx

KINDS = ("500", "502", "429", "drop", "slow", "malformed", "html", "403_training_not_available", "empty")
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


@dataclass
class ProxyFault:
    method: str
    path: re.Pattern[str]
    kind: str
    when: str  # before | after
    times: int
    delay: float


class _Server(ThreadingHTTPServer):
    request_queue_size = 512
    daemon_threads = True


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_root = f"{parts.scheme}://{parts.netloc}"
        self.prefix = parts.path.rstrip("/")
        self.faults: list[ProxyFault] = []
        self.log: list[tuple[str, str, str | None]] = []  # (method, path, fault kind or None)
        self.lock = threading.Lock()
        self.http = httpx.Client(base_url=self.upstream_root, timeout=30, follow_redirects=False)
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root + self.prefix

    def start(self) -> FaultProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.http.close()

    def fault(self, method: str, path: str, kind: str, when: str = "after", times: int = 1, delay: float = 0.0):
        assert kind in KINDS and when in ("before", "after"), (kind, when)
        self.faults.append(ProxyFault(method, re.compile(path), kind, when, times, delay))

    def _take(self, method: str, path: str) -> ProxyFault | None:
        with self.lock:
            fault = next(
                (f for f in self.faults if f.method == method and f.path.search(path) and f.times > 0),
                None,
            )
            if fault:
                fault.times -= 1
            self.log.append((method, path, f"{fault.when}:{fault.kind}" if fault else None))
            return fault

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: bytes, headers: dict | None = None) -> None:
                try:
                    self.send_response(status)
                    for k, v in (headers or {"Content-Type": "application/json"}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up (timed out) before the reply
                    self.close_connection = True

            def _spoil(self, fault: ProxyFault) -> bool:
                """Send the fault's reply instead of the real one; False: send the real one (slow)."""
                kind = fault.kind
                if kind in ("500", "502"):
                    self._reply(int(kind), json.dumps({"error": {"message": "internal error"}}).encode())
                elif kind == "429":
                    body = json.dumps({"error": {"message": "rate limited", "type": "rate_limit"}}).encode()
                    self._reply(429, body, {"Content-Type": "application/json", "Retry-After": "0"})
                elif kind == "drop":
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                elif kind == "slow":
                    time.sleep(fault.delay)
                    return False
                elif kind == "malformed":
                    self._reply(200, b'{"id": "broken", "status": ')
                elif kind == "html":
                    self._reply(200, b"<html><body>Bad gateway</body></html>", {"Content-Type": "text/html"})
                elif kind == "empty":
                    self._reply(200, b"{}")
                elif kind == "403_training_not_available":
                    error = {
                        "message": "Fine-tuning is not available for this organization.",
                        "type": "invalid_request_error",
                        "code": "training_not_available",
                    }
                    self._reply(403, json.dumps({"error": error}).encode())
                return True

            def _forward(self, method: str, body: bytes) -> httpx.Response:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                return proxy.http.request(method, self.path, content=body, headers=headers)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._take(method, urlsplit(self.path).path)
                if fault and fault.when == "before" and self._spoil(fault):
                    return
                response = self._forward(method, body)
                if fault and fault.when == "after" and self._spoil(fault):
                    return
                headers = {k: v for k, v in response.headers.items() if k.lower() not in HOP}
                if "location" in {k.lower() for k in headers}:  # Together's upload URL points upstream
                    headers = {
                        k: v.replace(proxy.upstream_root, proxy.root) if k.lower() == "location" else v
                        for k, v in headers.items()
                    }
                self._reply(response.status_code, response.content, headers)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        return Handler
