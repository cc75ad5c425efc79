"""A real OpenAI-compatible ``/v1/chat/completions`` server on loopback that records
every request body: privacy tests read exactly what left the process. It is not a model:
it answers each prompt with a fixed acknowledgement."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class RecordingChatServer(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: RecordingChatServer

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8")
        self.server.bodies.append(raw)
        answer = {"choices": [{"message": {"role": "assistant", "content": "A customer of the shop."}}]}
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def recording_chat_server() -> Iterator[RecordingChatServer]:
    server = RecordingChatServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
