"""A real OpenAI-compatible ``/v1/chat/completions`` server on loopback, for tests of the
``openai`` backend and of ``kg copy``. It records every request (raw body, parsed body,
user prompt, Authorization header), so privacy tests read exactly what left the process.
It is not a model: each request takes the next entry of ``script`` (a reply, or an int:
an HTTP error status to exercise retries), else ``answer(prompt)`` -- by default the facts
it was given, prefixed with "Described: "."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

PATH = "/v1/chat/completions"


def describe_facts(prompt: str) -> str:
    """``Described: <first 60 characters of the facts>`` for an enrich prompt."""
    facts = prompt.split("Facts: ", 1)[-1].split("\n", 1)[0]
    return f"Described: {facts[:60]}"


class RecordingChatServer(http.server.ThreadingHTTPServer):
    def __init__(self, answer: Callable[[str], str] = describe_facts) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.script: list[str | int] = []
        self.bodies: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.prompts: list[str] = []
        self.authorization: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: RecordingChatServer

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8")
        self.server.bodies.append(raw)
        body = json.loads(raw)
        self.server.requests.append(body)
        self.server.authorization.add(self.headers.get("Authorization", ""))
        prompt = body["messages"][-1]["content"]
        self.server.prompts.append(prompt)
        content = self.server.script.pop(0) if self.server.script else self.server.answer(prompt)
        if self.path != PATH or isinstance(content, int):
            self.send_response(content if isinstance(content, int) else 404)
            self.end_headers()
            return
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def recording_chat_server(answer: Callable[[str], str] = describe_facts) -> Iterator[RecordingChatServer]:
    server = RecordingChatServer(answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
