"""Small local stand-ins for an OpenAI-compatible server (http.server in a thread, 127.0.0.1 only).

``FakeOpenAIServer.mode`` picks the behaviour: ``ok``, ``slow`` (``delay`` seconds, then ok),
``malformed`` (invalid JSON), ``missing`` (valid JSON without choices), ``error500``, ``flaky429``
(``fail_first`` answers 429 with Retry-After 0, then ok), ``bad_request`` (HTTP 400) and ``nologprobs``
(ok, but no logprobs when asked to echo them).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def fake_completion(prompt: str) -> str:
    """What the fake server answers to a completion prompt (tests compute the expected text with it)."""
    return f" answer<{prompt[-24:]}>"


def fake_char_logprob(char: str) -> float:
    """The fake server's log-probability of one echoed character (each character is one token)."""
    return -((ord(char) % 5) + 1) / 10.0


class FakeOpenAIServer:
    def __init__(self, mode: str = "ok"):
        self.mode = mode
        self.delay = 0.0
        self.fail_first = 2
        self.lock = threading.Lock()
        self.requests: list[dict] = []   # {"path", "payload", "headers"} of every request received
        self.completed: list[str] = []   # prompts whose answer was fully sent
        self.in_flight = 0
        self.max_in_flight = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                with server.lock:
                    server.requests.append({"path": self.path, "payload": payload, "headers": dict(self.headers)})
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    n_seen = len(server.requests)
                try:
                    server._answer(self, payload, n_seen)
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def do_GET(self):
                server._send(self, 200, json.dumps({"data": [{"id": "fake"}]}).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.completed.clear()
            self.max_in_flight = 0

    def prompts_asked(self) -> list[str]:
        return [r["payload"].get("prompt") for r in self.requests]

    @staticmethod
    def _send(handler, status: int, body: bytes, headers: dict | None = None):
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                handler.send_header(k, v)
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    def _answer(self, handler, payload: dict, n_seen: int):
        mode = self.mode
        if mode == "slow":
            time.sleep(self.delay)
        if mode == "malformed":
            return self._send(handler, 200, b'{"choices": [{"text": "unterminated')
        if mode == "missing":
            return self._send(handler, 200, json.dumps({"object": "text_completion"}).encode())
        if mode == "error500":
            return self._send(handler, 500, b'{"error": "internal"}')
        if mode == "bad_request":
            return self._send(handler, 400, b'{"error": {"message": "model not found"}}')
        if mode == "flaky429" and n_seen <= self.fail_first:
            return self._send(handler, 429, b'{"error": "rate limited"}', {"Retry-After": "0"})
        if handler.path.endswith("/chat/completions"):
            last = payload["messages"][-1]["content"]
            body = {"choices": [{"message": {"role": "assistant", "content": f"chat<{last}>"}}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 3}}
        else:
            prompt = payload["prompt"]
            choice = {"text": fake_completion(prompt), "index": 0}
            if payload.get("echo") and payload.get("logprobs") is not None and mode != "nologprobs":
                tokens = list(prompt) + ["X"]
                values = [None] + [fake_char_logprob(c) for c in prompt[1:]] + [-9.0]
                choice = {"text": prompt + "X", "index": 0,
                          "logprobs": {"tokens": tokens, "token_logprobs": values,
                                       "text_offset": list(range(len(prompt) + 1))}}
            body = {"choices": [choice], "usage": {"prompt_tokens": len(prompt), "completion_tokens": 4}}
        self._send(handler, 200, json.dumps(body).encode())
        with self.lock:
            self.completed.append(payload.get("prompt") or payload.get("messages", [{}])[-1].get("content"))


def free_port() -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BlackholeServer:
    """Accepts TCP connections and never answers: a server that times out."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.connections = []
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.connections.append(conn)
            except OSError:
                continue

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self.thread.join()
        for c in self.connections:
            c.close()
        self.sock.close()


class TricklingServer:
    """Answers every request one byte at a time, ``gap`` seconds apart, never finishing: each read gets
    a byte well within any per-read timeout. ``headers_first``: send the status line and headers at once
    (a stalled body); otherwise the headers trickle too."""

    def __init__(self, gap: float = 0.2, headers_first: bool = True):
        self.gap, self.headers_first = gap, headers_first
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.base_url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self.requests = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.requests += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn):
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        body = b'{"choices": [{"text": "' + b"x" * 100000
        try:
            conn.recv(65536)
            if self.headers_first:
                conn.sendall(head)
                head = b""
            for i in range(len(head + body)):
                if self._stop.wait(self.gap):
                    break
                conn.sendall((head + body)[i:i + 1])
        except OSError:  # the client shut the connection: what the deadline does
            pass
        finally:
            conn.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()
        self.sock.close()
