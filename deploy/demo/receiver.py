#!/usr/bin/env python3
"""A demo webhook receiver for afterhook's quick start: prints every
delivery it gets (one line per webhook) and answers 200.

Usage: receiver.py [port]   (default 9000, on 127.0.0.1)
"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        hook_id = self.headers.get("webhook-id", "-")
        print(f"[receiver] {self.command} {self.path} webhook-id={hook_id} body={body}", flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_PUT = do_POST


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    ThreadingHTTPServer(("127.0.0.1", port), Receiver).serve_forever()
