"""``openai``: any OpenAI-compatible HTTP server (vLLM, llama.cpp server, Ollama, …).

Requests run in a bounded thread pool; each is retried with exponential backoff (and jitter) on 429, 5xx,
connection errors, timeouts and malformed JSON, up to ``max_retries`` times; other 4xx answers fail at once
with the server's message. ``timeout_s`` is a deadline for the whole of one request (connect, send, wait,
read the answer): httpx's own timeouts bound each socket operation, so a server that trickles a byte now
and then would hold a request for ever; a watchdog thread shuts the connection at the deadline, and says
on stderr what is being waited for while a request takes long. Answers reach the cache one by one as they arrive, so an interrupted batch keeps
everything that finished. The API key is read from the environment variable named in the config at request
time; it is sent in a header and appears nowhere else (not in the config, the cache, logs or errors).
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any

from .base import Completion, GenParams, LLMBackend
from .config import OpenAIConfig
from .errors import MalformedResponseError, ServerError, UnsupportedError
from .templates import resolve_template

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 30.0
WAIT_NOTE_S = (10.0, 30.0)  # a "still waiting" line after this many seconds, then every so many


class OpenAILLM(LLMBackend):
    backend_name = "openai"

    def __init__(self, config: OpenAIConfig | None = None):
        config = config or OpenAIConfig()
        super().__init__(config)
        import httpx2

        self._httpx = httpx2
        self.base_url = config.base_url.rstrip("/")
        # user:password in base_url is sent as the Authorization it means, never logged, cached or shown
        self.shown_url = _without_credentials(self.base_url)
        # "server": chat prompts go to /chat/completions as messages; strings to /completions.
        self.template = None if config.chat_template == "server" else resolve_template(config.chat_template)
        self._local = threading.local()  # one client per worker thread: no shared connection state
        self._clients: list = []
        self._pool: ThreadPoolExecutor | None = None
        self._timeout = httpx2.Timeout(config.timeout_s, connect=min(config.timeout_s, 10.0))

    @property
    def model_id(self) -> str:
        # extra_body can change answers (sampling options), so it is part of the model identity.
        extra = json.dumps(self.config.extra_body, sort_keys=True) if self.config.extra_body else ""
        return (self.config.model or self.shown_url) + (f" {extra}" if extra else "")

    def render(self, prompt: Any) -> Any:
        if self.template is None and not isinstance(prompt, str):
            from .templates import validate_messages

            return validate_messages(prompt)
        return super().render(prompt)

    # ---- HTTP ---------------------------------------------------------------------------------------
    def _client(self):
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._httpx.Client(timeout=self._timeout)
            self._clients.append(client)
        return client

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        for client in self._clients:
            client.close()
        self._clients.clear()
        self._local = threading.local()
        super().close()

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.config.api_key_env) if self.config.api_key_env else None
        if key and _key_may_go_to(self.base_url, self.config.allow_insecure_key):
            headers["Authorization"] = f"Bearer {key}"
        elif key and not getattr(self, "_warned_key", False):
            self._warned_key = True
            log.warning("not sending $%s to %s: plain http to a non-loopback host (set allow_insecure_key: true "
                        "to send it anyway)", self.config.api_key_env, self.shown_url)
        return headers

    def _send(self, url: str, payload: dict, attempt: str):
        """One POST that ends by ``timeout_s`` after it started, whatever the server does.

        Returns the response, or raises ``TimeoutError`` at the deadline (the connection is shut down,
        which wakes the blocked read) and httpx's exceptions otherwise."""
        local, timeout = self._local, self.config.timeout_s
        conn = {"stream": getattr(local, "stream", None)}  # the socket a kept-alive connection reuses
        lock, finished, expired = threading.Lock(), threading.Event(), threading.Event()

        def trace(event: str, info: dict) -> None:
            if event == "connection.connect_tcp.complete":
                conn["stream"] = local.stream = info.get("return_value")

        def watchdog() -> None:
            start = time.monotonic()
            deadline, note = start + timeout, start + WAIT_NOTE_S[0]
            while not finished.wait(max(0.0, min(deadline, note) - time.monotonic())):
                now = time.monotonic()
                if now >= deadline:
                    with lock:
                        if not finished.is_set():
                            expired.set()
                            _shut(conn["stream"])
                    return
                log.warning("still waiting for the LLM server %s (%s): no complete answer after %.0f s, "
                            "timeout_s=%g", url, attempt, now - start, timeout)
                note += WAIT_NOTE_S[1]

        threading.Thread(target=watchdog, name="intarsia-llm-deadline", daemon=True).start()
        try:
            limit = self.config.max_response_bytes
            with self._client().stream("POST", url, json=payload, headers=self._headers(),
                                       extensions={"trace": trace}) as response:
                body = bytearray()
                for chunk in response.iter_bytes():  # bounded: a huge answer is refused, never held whole
                    body += chunk
                    if len(body) > limit:
                        raise ServerError(f"LLM server {_without_credentials(url)} sent more than "
                                          f"max_response_bytes={limit} bytes; refused")
                local.stream = response.extensions.get("network_stream", conn["stream"])
                return _Answer(response.status_code, response.headers, bytes(body))
        except self._httpx.TransportError:
            if expired.is_set():
                raise TimeoutError from None
            raise
        finally:
            with lock:
                finished.set()

    def _post(self, path: str, payload: dict) -> dict:
        url = f"{self.shown_url}/{path}"  # what messages show; requests go to the full base_url
        attempts = self.config.max_retries + 1
        last = ""
        for attempt in range(attempts):
            retry_after = None
            try:
                response = self._send(f"{self.base_url}/{path}", payload, f"attempt {attempt + 1} of {attempts}")
            except self._httpx.ConnectError as exc:
                last = f"connection failed ({type(exc).__name__}: {exc})"
            except (self._httpx.TimeoutException, TimeoutError):
                last = f"no complete answer within timeout_s={self.config.timeout_s:g} s"
            except self._httpx.TransportError as exc:
                last = f"transport error ({type(exc).__name__}: {exc})"
            else:
                status = response.status_code
                if status == 429 or status >= 500:
                    last = f"HTTP {status}: {response.text[:300]!r}"
                    retry_after = _retry_after(response.headers.get("retry-after"))
                elif 300 <= status < 400:
                    raise ServerError(f"LLM server {url} answered with a redirect (HTTP {status}) to "
                                      f"{_without_credentials(response.headers.get('location', '?'))}: set base_url "
                                      "to where the server is (redirects are not followed)")
                elif status >= 400:
                    raise ServerError(f"LLM server {url} answered HTTP {status}: {response.text[:500]}")
                else:
                    try:
                        return response.json()
                    except ValueError:
                        last = f"malformed JSON in the response: {response.text[:200]!r}"
            if attempt + 1 < attempts:
                delay = min(MAX_BACKOFF_S, self.config.backoff_s * 2 ** attempt) * random.uniform(0.5, 1.0)
                delay = retry_after if retry_after is not None else delay
                log.warning("LLM server %s: %s; retry %d/%d in %.1f s", url, last, attempt + 1,
                            self.config.max_retries, delay)
                time.sleep(delay)
        if last.startswith("connection failed"):
            raise ServerError(f"LLM server {url} is unreachable after {attempts} attempts: {last}. "
                              f"Is the server running at base_url={self.shown_url!r}?")
        if last.startswith("malformed JSON"):
            raise MalformedResponseError(f"LLM server {url} gave {last} ({attempts} attempts)")
        raise ServerError(f"LLM server {url} failed after {attempts} attempts: {last}")

    def _map(self, jobs, fn) -> Iterator[tuple[int, Any]]:
        """Run ``fn(rendered)`` over jobs with at most ``max_concurrency`` in flight; yield as they finish."""
        if not jobs:
            return
        if self._pool is None:  # one pool per backend, so worker threads (and their clients) are reused
            self._pool = ThreadPoolExecutor(max_workers=max(1, self.config.max_concurrency),
                                            thread_name_prefix="intarsia-llm")
        workers = max(1, min(self.config.max_concurrency, len(jobs)))
        pending = {}
        queue = list(jobs)
        while queue or pending:
            # Submit lazily: at most `workers` requests in flight, so an error stops new requests quickly.
            while queue and len(pending) < workers:
                i, rendered = queue.pop(0)
                pending[self._pool.submit(fn, rendered)] = i
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                i = pending.pop(future)
                yield i, future.result()

    # ---- backend API --------------------------------------------------------------------------------
    def _generate(self, jobs, params: GenParams) -> Iterator[tuple[int, Completion]]:
        def one(rendered) -> Completion:
            payload: dict[str, Any] = {**self.config.extra_body, "max_tokens": params.max_tokens,
                                       "temperature": params.temperature, "top_p": params.top_p}
            if self.config.model:
                payload["model"] = self.config.model
            if params.stop:
                payload["stop"] = list(params.stop)
            if params.seed is not None:
                payload["seed"] = params.seed
            chat = not isinstance(rendered, str)
            if chat:
                payload["messages"] = rendered
            else:
                payload["prompt"] = rendered
            url_path = "chat/completions" if chat else "completions"
            data = self._post(url_path, payload)
            try:
                choice = data["choices"][0]
                text = choice["message"]["content"] if chat else choice["text"]
                if not isinstance(text, str):
                    raise TypeError(f"text is {type(text).__name__}")
            except (KeyError, IndexError, TypeError) as exc:
                raise MalformedResponseError(
                    f"LLM server {self.base_url}/{url_path} returned JSON without the completion text "
                    f"({type(exc).__name__}: {exc}): {str(data)[:300]}") from None
            usage = data.get("usage") or {}
            return Completion(text, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))

        yield from self._map(jobs, one)

    def _option_logprobs(self, jobs, options: Sequence[str]) -> Iterator[tuple[int, list[float]]]:
        def one(prompt: str) -> list[float]:
            return [self._continuation_logprob(prompt, option) for option in options]

        yield from self._map(jobs, one)

    def _continuation_logprob(self, prompt: str, option: str) -> float:
        """Sum of the prompt-token logprobs of ``option`` after ``prompt`` via ``echo`` + ``logprobs``."""
        payload: dict[str, Any] = {**self.config.extra_body, "prompt": prompt + option, "max_tokens": 1,
                                   "temperature": 0.0, "echo": True, "logprobs": 1}
        if self.config.model:
            payload["model"] = self.config.model
        url = f"{self.base_url}/completions"
        try:
            data = self._post("completions", payload)
        except ServerError as exc:
            if isinstance(exc, MalformedResponseError) or "HTTP 4" not in str(exc):
                raise
            raise UnsupportedError(f"{url} refused echo+logprobs, which option scoring needs: {exc}") from None
        try:
            lp = data["choices"][0]["logprobs"]
            offsets, values, tokens = lp["text_offset"], lp["token_logprobs"], lp["tokens"]
        except (KeyError, IndexError, TypeError):
            raise UnsupportedError(
                f"{url} did not return prompt log-probabilities (needs 'echo' with 'logprobs' on "
                f"/v1/completions: vLLM supports it; llama.cpp's server needs logits_all): {str(data)[:300]}"
            ) from None
        end = len(prompt) + len(option)
        total, used = 0.0, 0
        for offset, value, token in zip(offsets, values, tokens):
            # Tokens of the option: those ending past the prompt and starting before its end (the one
            # sampled token after the echo starts at `end` and is skipped).
            if offset is None or offset >= end or offset + len(token) <= len(prompt):
                continue
            if value is None:
                raise UnsupportedError(f"{url} returned no logprob for echoed token {token!r}")
            total += float(value)
            used += 1
        if used == 0:
            raise MalformedResponseError(f"{url} echoed no tokens for option {option!r}")
        return total


def _shut(stream) -> None:
    """Shut a connection's socket down from another thread: a read blocked on it returns at once."""
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return min(MAX_BACKOFF_S, max(0.0, float(value)))
    except ValueError:
        return None


class _Answer:
    """A response read whole (within ``max_response_bytes``)."""

    def __init__(self, status_code: int, headers, content: bytes):
        self.status_code, self.headers, self.content = status_code, headers, content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.content)


def _without_credentials(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        u = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    if u.username is None and u.password is None:
        return url
    host = (u.hostname or "") + (f":{u.port}" if u.port else "")
    return u._replace(netloc=host).geturl()


def _key_may_go_to(url: str, allow_insecure: bool) -> bool:
    import ipaddress
    from urllib.parse import urlsplit

    u = urlsplit(url)
    if u.scheme == "https" or allow_insecure:
        return True
    host = (u.hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
