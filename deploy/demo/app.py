#!/usr/bin/env python3
"""A small demo app for afterhook's quick start: an HTTP/1.1 server on
127.0.0.1 (port from argv, default 8080) with a few routes to try.

  GET  /                 hello
  GET  /slow?ms=500      answers after a delay
  GET  /status/503       answers with that status
  POST /echo             echoes the request body
  POST /orders           answers 201 and asks afterhook to run the
                         `order-created` hook via the afterhook-trigger header
"""
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # afterhook logs requests; the app stays quiet
        pass

    def reply(self, status, body, extra=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/slow":
            ms = int(parse_qs(url.query).get("ms", ["500"])[0])
            time.sleep(min(ms, 30000) / 1000)
            return self.reply(200, f"slept {ms} ms\n")
        if url.path.startswith("/status/"):
            code = int(url.path.rsplit("/", 1)[1])
            return self.reply(code, f"status {code}\n")
        rid = self.headers.get("X-Request-Id", "")
        return self.reply(200, f"hello from the demo app (request id {rid})\n")

    do_HEAD = do_GET

    def do_POST(self):
        body = self.read_body()
        if self.path == "/orders":
            return self.reply(201, "order created\n", {"afterhook-trigger": "order-created;order=42"})
        return self.reply(200, body)


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
