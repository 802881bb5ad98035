"""A scriptable fake OpenAI-compatible server on 127.0.0.1 for judge tests.

Each POST to /v1/chat/completions takes the next scripted step: a reply, an HTTP error, a
hang (for timeouts), a connection dropped mid-response, or raw bytes (a server that is not an
OpenAI-compatible one). A request with "stream": true gets
the reply as server-sent events, as llama-server and OpenAI send them; a step can then also
stall after its first chunk or repeat itself until the client gives up (runaway generations).
Every request is recorded with its JSON body, headers and arrival time, so tests can check
what the client sent.

    def test_x(fake_openai):
        fake_openai.reply('{"key_points": [...]}')
        judge = Judge(Settings(judge_model="m", judge_base_url=fake_openai.base_url))

Use it from a test module with `pytest_plugins = ["tests.fake_openai"]` (conftest.py is shared).
PYTEST_DONT_REWRITE: test modules import this before pytest registers it as a plugin.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Step:
    """One scripted response."""

    content: str | None = None  # the assistant message text (status 200)
    status: int = 200
    body: Any = None  # raw JSON body instead of a chat completion
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (client timeouts)
    drop: bool = False  # send headers and part of the body, then close the connection
    finish_reason: str = "stop"
    stall: float = 0.0  # streaming: seconds to go quiet after the first chunk
    quiet: float = 0.0  # streaming: seconds to go quiet after the headers, before any chunk
    runaway: bool = False  # streaming: after the content, repeat its end until disconnected
    raw: bytes | None = None  # sent as the whole body, whatever the request asked for
    content_type: str = "text/event-stream"  # of a raw body


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any
    at: float  # time.monotonic() on arrival


def completion(content: str | None, model: str, finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
    }


def judge_json(
    verdicts: Mapping[str, str],
    misconceptions: list[str] | None = None,
    instructs_grader: bool = False,
    comment: str = "ok",
    evidence: Mapping[str, str] | None = None,
    as_list: bool = False,
) -> str:
    """A judge reply in the prompt's JSON shape (key points keyed by id), or the list shape."""
    entries = {
        kp: {"evidence": (evidence or {}).get(kp, ""), "reason": f"{kp} is {v}", "verdict": v}
        for kp, v in verdicts.items()
    }
    key_points: Any = [{"id": kp, **e} for kp, e in entries.items()] if as_list else entries
    return json.dumps(
        {
            "reasoning": "compared the answer with each key point",
            "key_points": key_points,
            "misconceptions": misconceptions or [],
            "instructs_grader": instructs_grader,
            "comment": comment,
        },
        ensure_ascii=False,
    )


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            body = raw.decode(errors="replace")
        fake = self.server.fake
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake.record(Recorded(self.path, headers, body, time.monotonic()))
        step = fake.next_step()
        if step is None:
            self._send_json(500, {"error": {"message": "fake server: no scripted response left"}})
            return
        if step.delay:
            time.sleep(step.delay)
        if step.drop:
            self._drop_mid_response()
            return
        if step.raw is not None:
            self._send_json(step.status, step.raw, {"Content-Type": step.content_type})
            return
        streaming = isinstance(body, dict) and bool(body.get("stream"))
        if streaming and step.status == 200 and step.body is None:
            self._stream(step, body)
            return
        if step.body is not None:
            payload = step.body
        elif step.status == 200:
            model = body.get("model", "fake") if isinstance(body, dict) else "fake"
            payload = completion(step.content, model, step.finish_reason)
        else:
            payload = {"error": {"message": step.content or f"HTTP {step.status}", "type": "x"}}
        self._send_json(step.status, payload, step.headers)

    def _send_json(self, status: int, payload: Any, headers: Mapping[str, str] = {}) -> None:
        data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
        try:
            self.send_response(status)
            if "Content-Type" not in headers:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout tests)

    def _stream(self, step: Step, body: dict[str, Any]) -> None:
        """The reply as chat.completion.chunk events, a few characters each."""

        def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
            chunk = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            return b"data: " + json.dumps(chunk).encode() + b"\n\n"

        content = step.content or ""
        pieces = [content[i : i + 16] for i in range(0, len(content), 16)] or [""]
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            if step.quiet:
                self.wfile.flush()
                time.sleep(step.quiet)
            for n, piece in enumerate(pieces):
                self.wfile.write(
                    event({"role": "assistant", "content": piece} if n == 0 else {"content": piece})
                )
                self.wfile.flush()
                if n == 0 and step.drop:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if n == 0 and step.stall:
                    time.sleep(step.stall)
            while step.runaway:  # until the client hangs up (the write fails)
                self.wfile.write(event({"content": content[-12:]}))
                self.wfile.flush()
                time.sleep(0.002)
            self.wfile.write(event({}, step.finish_reason))
            if (body.get("stream_options") or {}).get("include_usage"):
                usage = {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}
                chunk = json.loads(event({})[6:])
                chunk["choices"], chunk["usage"] = [], usage
                self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except OSError:
            pass  # the client stopped reading (stall, budget and runaway tests)
        self.close_connection = True

    def _drop_mid_response(self) -> None:
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "4096")
            self.end_headers()
            self.wfile.write(b'{"id": "chatcmpl-fake", "choices": [')
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # hanging handlers must not block shutdown
    fake: FakeOpenAI

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out break pipes; that is the point of those tests


class FakeOpenAI:
    """The server plus its script; start with `with FakeOpenAI() as fake:`."""

    def __init__(self) -> None:
        self._steps: deque[Step] = deque()
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- script

    def push(self, *steps: Step) -> FakeOpenAI:
        with self._lock:
            self._steps.extend(steps)
        return self

    def reply(self, content: str | None, **kw: Any) -> FakeOpenAI:
        return self.push(Step(content=content, **kw))

    def error(
        self, status: int, message: str = "", headers: dict[str, str] | None = None
    ) -> FakeOpenAI:
        return self.push(
            Step(content=message or f"HTTP {status}", status=status, headers=headers or {})
        )

    def hang(self, seconds: float) -> FakeOpenAI:
        return self.push(Step(content="{}", delay=seconds))

    def quiet(self, content: str, seconds: float) -> FakeOpenAI:
        """Streaming: the headers at once, then nothing for `seconds` (then the reply)."""
        return self.push(Step(content=content, quiet=seconds))

    def drop(self) -> FakeOpenAI:
        return self.push(Step(drop=True))

    def stall(self, content: str, seconds: float) -> FakeOpenAI:
        return self.push(Step(content=content, stall=seconds))

    def runaway(self, content: str) -> FakeOpenAI:
        return self.push(Step(content=content, runaway=True))

    def raw(self, data: bytes, content_type: str = "text/event-stream") -> FakeOpenAI:
        return self.push(Step(raw=data, content_type=content_type))

    def next_step(self) -> Step | None:
        with self._lock:
            return self._steps.popleft() if self._steps else None

    def record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    @property
    def remaining(self) -> int:
        return len(self._steps)

    @property
    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
