#!/usr/bin/env python3
"""Hold many idle keep-alive client connections open on afterhook.

Opens --count TCP connections to --host:--port, sends one complete
`GET / HTTP/1.1` on each, reads its whole response (the benchmark upstream
answers 200 "hello world\\n"), and then keeps every connection open and idle
for up to --hold seconds or until SIGTERM. This is the realistic idle
client: a browser or a pooled HTTP client that made a request and keeps the
connection for the next one.

Requests are sent in batches of --window connections, so at most --window
exchanges are in flight at once and afterhook's upstream pool stays small:
the memory measured is that of idle client connections, not of upstream
connections.

Prints `ready N` on stdout once all N connections have had their response;
exits 1 (with the reason on stderr) if any connection fails.
"""
import argparse
import signal
import socket
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: bench.local\r\nUser-Agent: afterhook-bench-idle\r\n\r\n"
EXPECTED_BODY = b"hello world\n"


def read_response(sock: socket.socket) -> bytes:
    """Read one response framed by Content-Length and return its body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("connection closed before the response head ended")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = lines[0].split(b" ")
    if len(status) < 2 or status[1] != b"200":
        raise ConnectionError(f"unexpected status line {lines[0]!r}")
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        raise ConnectionError("response has no Content-Length")
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("connection closed inside the response body")
        body += chunk
    if len(body) != length:
        raise ConnectionError("more bytes than Content-Length (pipelining is not expected)")
    return body


def open_batch(host: str, port: int, size: int, timeout: float) -> list:
    """Connect `size` sockets, send the request on each, then read every response."""
    batch = []
    for _ in range(size):
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.sendall(REQUEST)
        batch.append(sock)
    for sock in batch:
        body = read_response(sock)
        if body != EXPECTED_BODY:
            raise ConnectionError(f"unexpected body {body[:64]!r}")
    return batch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--window", type=int, default=32, help="exchanges in flight at once")
    parser.add_argument("--timeout", type=float, default=30.0, help="per socket operation, seconds")
    parser.add_argument("--hold", type=float, default=600.0, help="seconds to keep the connections")
    args = parser.parse_args()

    # SIGTERM ends the hold; the kernel closes every socket on exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    held = []
    try:
        while len(held) < args.count:
            size = min(args.window, args.count - len(held))
            held.extend(open_batch(args.host, args.port, size, args.timeout))
    except (OSError, ValueError) as err:
        print(f"idle_clients: connection {len(held) + 1} of {args.count} failed: {err}", file=sys.stderr)
        return 1

    print(f"ready {len(held)}", flush=True)
    deadline = time.monotonic() + args.hold
    while time.monotonic() < deadline:
        time.sleep(1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
