#!/usr/bin/env python3
"""A fast webhook receiver for the hooks benchmark.

Usage: receiver.py --stats FILE [--port N] [--delay-ms MS]

Listens on 127.0.0.1 (port 0 picks one) and prints `listening PORT` on
stdout once bound. It speaks HTTP/1.1 with keep-alive: each request must
carry its body as Content-Length (afterhook's webhooks do), and every
request is answered `204 No Content`, after --delay-ms milliseconds when
given (the slow receiver of the saturation run).

For every request it records the receive time (time.time() once the whole
body has arrived) and, when the body is a JSON object with `time`
(RFC 3339, the request start) and `duration_ms`, the delivery lag:
receive time - (time + duration_ms), that is from the response having been
sent to the webhook having been received, in milliseconds.

On SIGTERM or SIGINT it writes JSON stats to --stats and exits:
count (requests received), lag_count (requests whose body gave a lag),
bad_bodies, and lag_ms {p50, p99, max} over lag_count (null when empty).
"""
import argparse
import asyncio
import datetime
import json
import math
import signal
import sys
import time

RESPONSE = b"HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n"
CLOSE_RESPONSE = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"


class Receiver:
    """Counts requests and keeps one lag sample per parsable body."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.count = 0
        self.bad_bodies = 0
        self.lags_ms = []

    def record(self, received: float, body: bytes) -> None:
        self.count += 1
        try:
            event = json.loads(body)
            started = datetime.datetime.fromisoformat(event["time"]).timestamp()
            sent = started + float(event["duration_ms"]) / 1000.0
        except (ValueError, KeyError, TypeError):
            self.bad_bodies += 1
            return
        self.lags_ms.append((received - sent) * 1000.0)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection: requests in order until EOF or Connection: close."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length, close = parse_head(head)
                body = await reader.readexactly(length) if length else b""
                self.record(time.time(), body)
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                writer.write(CLOSE_RESPONSE if close else RESPONSE)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    def stats(self) -> dict:
        lags = sorted(self.lags_ms)
        return {
            "count": self.count,
            "lag_count": len(lags),
            "bad_bodies": self.bad_bodies,
            "lag_ms": {
                "p50": percentile(lags, 50),
                "p99": percentile(lags, 99),
                "max": lags[-1] if lags else None,
            },
        }


def parse_head(head: bytes):
    """Returns (Content-Length, whether the client asked to close)."""
    length = 0
    close = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
        elif name == b"transfer-encoding":
            raise ValueError("chunked bodies are not supported")
    return length, close


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list, None when it is empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


async def main() -> int:
    parser = argparse.ArgumentParser(description="webhook receiver for the hooks benchmark")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--stats", required=True)
    args = parser.parse_args()

    receiver = Receiver(args.delay_ms / 1000.0)
    server = await asyncio.start_server(receiver.serve, "127.0.0.1", args.port, backlog=1024)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()
    with open(args.stats, "w", encoding="utf-8") as handle:
        json.dump(receiver.stats(), handle)
        handle.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
