"""A small, scriptable HTTP server for tests (sheet exports, a CRM, a webhook receiver).

It is a real ``http.server.ThreadingHTTPServer`` on 127.0.0.1 (a free port), served from a
background thread, so the code under test talks real HTTP through ``requests``/urllib3.

    from funnel_assets_tests.http_server import LocalHTTPServer, ScriptedResponse

    with LocalHTTPServer() as server:
        server.enqueue("/export.csv", ScriptedResponse(status=500),
                       ScriptedResponse(body="a,b\\r\\n1,2\\r\\n"))
        url = server.url("/export.csv")          # http://127.0.0.1:PORT/export.csv
        ...                                      # code under test GETs it twice
        assert [r.path for r in server.requests] == ["/export.csv", "/export.csv"]

Scripting, per path (the query string is ignored for matching, but recorded):

* ``enqueue(path, *responses)``: responses served once each, in order.
* ``set_default(path, response)``: served whenever the queue for ``path`` is empty (e.g. a
  server that answers 503 forever, or a webhook receiver that always answers 204).
* A response can also be a callable ``(RecordedRequest) -> ScriptedResponse`` for dynamic
  answers (check a token, echo a body, paginate).
* Anything unscripted gets a 404 whose body says so (and is recorded, so tests can notice).

``ScriptedResponse`` knobs: ``status``, ``body`` (str or bytes), ``headers``,
``content_type``, ``delay`` (seconds before the status line: client timeouts),
``body_delay`` (seconds between the headers and the body: read timeouts mid-download),
``close_after`` (send only that many body bytes while announcing the full Content-Length,
then close: truncated downloads), ``drop`` (close the connection without answering).

Every request is recorded as a ``RecordedRequest`` (method, path, query, headers, body) in
``server.requests``; ``wait_for_requests(n)`` waits for asynchronous senders (webhooks).

``closed_port_url()`` gives a URL on which nothing listens (connection refused).
For pytest, use the ``local_http_server`` fixture defined here (import it into a test
module or a conftest) or write your own three-line fixture around ``LocalHTTPServer()``.
"""

from __future__ import annotations

import json as _json
import socket
import sys
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Union

import pytest

__all__ = [
    "LocalHTTPServer",
    "RecordedRequest",
    "ScriptedResponse",
    "closed_port_url",
    "local_http_server",
]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str  # without the query string
    query: dict[str, list[str]]  # parsed query string (blank values kept)
    raw_path: str  # path with the query string, as sent
    headers: dict[str, str]  # header names as sent; use `header()` for case-insensitive lookup
    body: bytes
    received_at: float  # time.monotonic()

    def header(self, name: str, default: str | None = None) -> str | None:
        """Case-insensitive header lookup."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return default

    def query_value(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def text(self, encoding: str = "utf-8") -> str:
        """The request body decoded."""
        return self.body.decode(encoding)

    def json(self) -> Any:
        """The request body parsed as JSON."""
        return _json.loads(self.body.decode("utf-8"))


@dataclass
class ScriptedResponse:
    """What the server answers to one request (see the module docstring)."""

    status: int = 200
    body: bytes | str = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = "text/csv; charset=utf-8"
    delay: float = 0.0
    body_delay: float = 0.0
    close_after: int | None = None
    drop: bool = False

    @classmethod
    def csv(cls, text: str | bytes, **kwargs: Any) -> "ScriptedResponse":
        """A 200 CSV response."""
        return cls(body=text, **kwargs)

    @classmethod
    def json(cls, payload: Any, status: int = 200, **kwargs: Any) -> "ScriptedResponse":
        """A JSON response."""
        kwargs.setdefault("content_type", "application/json")
        return cls(status=status, body=_json.dumps(payload), **kwargs)

    @classmethod
    def html(cls, text: str, status: int = 200, **kwargs: Any) -> "ScriptedResponse":
        """An HTML page (sign-in / error page)."""
        kwargs.setdefault("content_type", "text/html; charset=utf-8")
        return cls(status=status, body=text, **kwargs)

    def body_bytes(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else bytes(self.body)


Responder = Union[ScriptedResponse, Callable[[RecordedRequest], ScriptedResponse]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    owner: "LocalHTTPServer"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or hang up mid-response are expected in these tests.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)  # pragma: no cover


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 10  # socket timeout for reading the request

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output quiet

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline().strip()
                size = int(size_line.split(b";", 1)[0] or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        owner = self.server.owner
        parts = urllib.parse.urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=parts.path or "/",
            query=urllib.parse.parse_qs(parts.query, keep_blank_values=True),
            raw_path=self.path,
            headers={k: v for k, v in self.headers.items()},
            body=self._read_body(),
            received_at=time.monotonic(),
        )
        owner._record(request)
        response = owner._next_response(request)
        self.close_connection = True

        if response.delay and owner._stopping.wait(response.delay):
            return
        if response.drop:
            self._hang_up()
            return

        body = response.body_bytes()
        header_names = {k.lower() for k in response.headers}
        self.send_response(response.status)
        if response.content_type and "content-type" not in header_names:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if "content-length" not in header_names:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.flush()

        if response.body_delay and owner._stopping.wait(response.body_delay):
            return
        if self.command == "HEAD":
            return
        if response.close_after is not None:
            self.wfile.write(body[: response.close_after])
            self.wfile.flush()
            self._hang_up()
            return
        self.wfile.write(body)
        self.wfile.flush()

    def _hang_up(self) -> None:
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class LocalHTTPServer:
    """A scriptable HTTP server on 127.0.0.1 running in a background thread.

    Use as a context manager (or call ``start()`` / ``stop()``). See the module docstring.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._lock = threading.Condition()
        self._queues: dict[str, deque[Responder]] = {}
        self._defaults: dict[str, Responder] = {}
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> "LocalHTTPServer":
        """Bind the port and start serving in a daemon thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _Server((self._host, self._port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, name="LocalHTTPServer", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (pending delays are cut short)."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> "LocalHTTPServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://{self._host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` (which may include a query string)."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # -- scripting -------------------------------------------------------------------
    def enqueue(self, path: str, *responses: Responder) -> "LocalHTTPServer":
        """Serve these responses to the next requests for ``path``, once each, in order."""
        path = _path_only(path)
        with self._lock:
            self._queues.setdefault(path, deque()).extend(responses)
        return self

    def set_default(self, path: str, response: Responder) -> "LocalHTTPServer":
        """Serve ``response`` for ``path`` whenever its queue is empty (every time)."""
        with self._lock:
            self._defaults[_path_only(path)] = response
        return self

    def pending(self, path: str | None = None) -> int:
        """How many enqueued responses have not been served (for ``path`` or in total)."""
        with self._lock:
            if path is not None:
                return len(self._queues.get(_path_only(path), ()))
            return sum(len(q) for q in self._queues.values())

    def reset(self) -> None:
        """Forget all scripted responses and recorded requests."""
        with self._lock:
            self._queues.clear()
            self._defaults.clear()
            self._requests.clear()

    # -- inspection ------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_for(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """The received requests for ``path`` (optionally only one HTTP method)."""
        path = _path_only(path)
        return [
            r for r in self.requests if r.path == path and (method is None or r.method == method.upper())
        ]

    def wait_for_requests(self, count: int, *, path: str | None = None, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``count`` requests (for ``path``, if given) arrived.

        Returns them; raises ``TimeoutError`` if they don't arrive within ``timeout``.
        """
        wanted = _path_only(path) if path is not None else None

        def matching() -> list[RecordedRequest]:
            return [r for r in self._requests if wanted is None or r.path == wanted]

        deadline = time.monotonic() + timeout
        with self._lock:
            while len(matching()) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"expected {count} request(s){' for ' + wanted if wanted else ''}, "
                        f"got {len(matching())} within {timeout} s"
                    )
                self._lock.wait(remaining)
            return matching()

    # -- called from handler threads -------------------------------------------------
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()

    def _next_response(self, request: RecordedRequest) -> ScriptedResponse:
        with self._lock:
            queue = self._queues.get(request.path)
            if queue:
                responder: Responder | None = queue.popleft()
            else:
                responder = self._defaults.get(request.path)
        if responder is None:
            return ScriptedResponse(
                status=404,
                body=f"no scripted response for {request.method} {request.path}\n",
                content_type="text/plain; charset=utf-8",
            )
        if callable(responder) and not isinstance(responder, ScriptedResponse):
            try:
                return responder(request)
            except Exception as exc:  # make handler bugs visible to the client side
                return ScriptedResponse(
                    status=599, body=f"responder raised {exc!r}\n", content_type="text/plain; charset=utf-8"
                )
        return responder


def _path_only(path: str) -> str:
    path = urllib.parse.urlsplit(path).path or "/"
    return path if path.startswith("/") else "/" + path


def closed_port_url(path: str = "/") -> str:
    """A URL on 127.0.0.1 where nothing listens (the connection is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}" + (path if path.startswith("/") else "/" + path)


@pytest.fixture
def local_http_server() -> Iterator[LocalHTTPServer]:
    """A started `LocalHTTPServer`, stopped after the test."""
    with LocalHTTPServer() as server:
        yield server
