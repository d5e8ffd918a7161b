"""Download a CSV export (a Google Sheet's CSV link, a CRM dump, a local file) robustly.

`fetch_csv` returns the raw bytes plus some provenance (`FetchedCSV`) or raises a
`FetchError` whose message says, in plain language, what went wrong and what to do.
It deliberately does not parse the data into a frame: callers decode the bytes with
`decode_csv_bytes` and read them with their CSV reader of choice.

What is checked:

* HTTP status: 429 and 5xx are retried (with exponential backoff, honouring a
  ``Retry-After`` header), other 4xx fail at once with a hint (401/403: the link is not
  shared publicly or the token is wrong; 404: check the URL).
* Connection errors and timeouts are retried.
* Truncated downloads are detected and retried: fewer bytes than ``Content-Length``
  (whether or not urllib3 raises for it), a last record that ends inside a quoted field,
  or a last line with fewer fields than the header.
* HTML instead of CSV (a Google sign-in page, a proxy or CRM error page), empty bodies,
  and missing required columns are reported without retrying (they will not fix
  themselves).

Secrets never appear in messages or log lines: query parameters named like token/key/secret/
password/auth are replaced by ``***`` in every URL or text we print, and the values of
secret parameters, auth headers and the caller's ``secrets`` (a token in a parameter with any
name) are scrubbed by value, plain or URL-encoded, from any text we quote.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import requests

from funnel_assets.lib.redact import scrub_secrets

__all__ = [
    "EmptyCSVError",
    "FetchError",
    "FetchedCSV",
    "MissingColumnsError",
    "NotCSVError",
    "TruncatedCSVError",
    "decode_csv_bytes",
    "fetch_csv",
    "is_transient",
    "redact_url",
]

log = logging.getLogger(__name__)

REDACTED = "***"
USER_AGENT = "funnel-assets/0.1 (+https://github.com/; python-requests)"
_ACCEPT = "text/csv, text/plain;q=0.9, application/octet-stream;q=0.5, */*;q=0.1"
_CHUNK = 64 * 1024
_MAX_RETRY_AFTER = 120.0  # seconds; never wait longer than this because a server asked
_UTF8_BOM = b"\xef\xbb\xbf"

# Names of query parameters / headers whose values are secrets.
_SECRET_NAME = re.compile(
    r"token|key|secret|passw|pwd|auth|signature|credential|session|cookie", re.IGNORECASE
)
# `name=value` pairs inside arbitrary text (exception messages quote request paths).
_SECRET_PAIR_IN_TEXT = re.compile(
    r"(?P<name>[\w.\-\[\]%]*(?:token|key|secret|passw|pwd|auth|signature|credential|session)"
    r"[\w.\-\[\]%]*)=(?P<value>[^&\s'\"<>;,)#]+)",
    re.IGNORECASE,
)
_USERINFO_IN_TEXT = re.compile(r"(?P<pre>//[^/@:\s]+):(?P<pw>[^@/\s]+)@")
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]+)://")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class FetchedCSV:
    """A downloaded CSV export.

    Attributes:
        content: the raw bytes exactly as received (a UTF-8 BOM, if any, is kept).
        location: where it came from, with secrets redacted (safe to log / store).
        header: the column names of the first record, as written (BOM stripped).
        fetched_at: when the download finished (timezone-aware, UTC).
        attempts: how many HTTP requests it took (1 for a local file).
        sha256: hex digest of `content`, handy for change detection and provenance.
    """

    content: bytes
    location: str
    header: list[str]
    fetched_at: datetime
    attempts: int
    sha256: str

    def text(self) -> str:
        """The content decoded with `decode_csv_bytes` (BOM and NUL bytes removed)."""
        return decode_csv_bytes(self.content)


class FetchError(Exception):
    """A CSV export could not be fetched or is not usable.

    ``str(error)`` is a plain-language message meant for the person running the
    pipeline (secrets redacted). Attributes: ``location`` (redacted), ``status`` (the
    last HTTP status, if any) and ``attempts`` (number of requests made).
    """

    def __init__(
        self, message: str, *, location: str, status: int | None = None, attempts: int = 0
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.status = status
        self.attempts = attempts

    def __str__(self) -> str:
        return self.message


class NotCSVError(FetchError):
    """The location returned a web page (sign-in / error page) instead of CSV."""


class TruncatedCSVError(FetchError):
    """The download was cut off (short body, unterminated quote, short last line)."""


class EmptyCSVError(FetchError):
    """The download or file was empty."""


class MissingColumnsError(FetchError):
    """The CSV header lacks some required columns (see ``missing`` and ``found``)."""

    def __init__(
        self,
        message: str,
        *,
        location: str,
        missing: Sequence[str],
        found: Sequence[str],
        status: int | None = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(message, location=location, status=status, attempts=attempts)
        self.missing = list(missing)
        self.found = list(found)


@dataclass(eq=False)
class _Problem(Exception):
    """Internal: one attempt failed. Turned into a public FetchError by `fetch_csv`."""

    problem: str
    advice: str = ""
    kind: type[FetchError] = FetchError
    status: int | None = None
    retryable: bool = False
    retry_after: float | None = None
    extra: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def redact_url(url: str) -> str:
    """Return `url` with secret query parameters (token, key, secret, password, auth, ...)
    and any password in the user-info part replaced by ``***``.

    Non-URL strings (local paths) are returned unchanged.
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return _redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + REDACTED
        netloc = f"{userinfo}@{hostport}"
    query = parts.query
    if query:
        pieces = []
        for piece in re.split(r"([&;])", query):
            if piece in ("&", ";") or "=" not in piece:
                pieces.append(piece)
                continue
            name, _, _value = piece.partition("=")
            if _SECRET_NAME.search(urllib.parse.unquote_plus(name)):
                piece = f"{name}={REDACTED}"
            pieces.append(piece)
        query = "".join(pieces)
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_text(text: str, secrets: Sequence[str] = ()) -> str:
    """Scrub secret-looking ``name=value`` pairs, URL passwords and known secret values
    from foreign text (exception messages, response bodies)."""
    text = _SECRET_PAIR_IN_TEXT.sub(lambda m: f"{m['name']}={REDACTED}", text)
    text = _USERINFO_IN_TEXT.sub(lambda m: f"{m['pre']}:{REDACTED}@", text)
    return _scrub_secrets(text, secrets)


def _scrub_secrets(text: str, secrets: Sequence[str]) -> str:
    """Replace every occurrence of the known secret values (plain or URL-encoded)."""
    return scrub_secrets(text, secrets)


def _secret_values(
    location: str, headers: Mapping[str, str] | None, params: Mapping[str, object] | None
) -> list[str]:
    """Values that must never be printed: secret params / headers / URL passwords."""
    values: list[str] = []
    for name, value in (params or {}).items():
        if _SECRET_NAME.search(str(name)):
            if isinstance(value, (list, tuple)):
                values.extend(str(v) for v in value)
            else:
                values.append(str(value))
    for name, value in (headers or {}).items():
        if _SECRET_NAME.search(str(name)) or str(name).lower() in ("authorization", "proxy-authorization"):
            value = str(value)
            values.append(value)
            scheme, _, credentials = value.partition(" ")
            if credentials and scheme.lower() in ("bearer", "basic", "token", "digest"):
                values.append(credentials.strip())
    try:
        parts = urllib.parse.urlsplit(location)
        for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
            if _SECRET_NAME.search(name):
                values.append(value)
        if parts.password:
            values.append(parts.password)
    except ValueError:
        pass
    return [v for v in values if v]


def decode_csv_bytes(content: bytes) -> str:
    """Decode a CSV download to text.

    UTF-8 with or without a BOM (the BOM is stripped); UTF-16 if it starts with a
    UTF-16 BOM; otherwise cp1252 (what Excel on Windows writes when someone re-saves
    the export), with undecodable bytes replaced. NUL bytes are removed.
    """
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = content.decode("utf-16")
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = content.decode("cp1252", errors="replace")
    text = text.lstrip("\ufeff")
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text


# An HTML fragment served without <html>/<!doctype> (a proxy's "<div>Sign in</div>", a CRM's
# "<p>Error</p>", a bare "<table>"): the body starts with one of these tags (or a comment) and
# closes a tag somewhere in its first 2 KB (a CSV whose first cell is "<b>" does not).
_HTML_START = re.compile(
    rb"<(?:!--|(?:a|b|body|br|center|div|font|form|h[1-6]|head|hr|i|iframe|img|input|link|main|meta|"
    rb"noscript|ol|p|pre|script|section|span|strong|style|table|tbody|td|th|thead|title|tr|ul)(?:[\s/>]))"
)


def _looks_like_html(content: bytes, content_type: str | None) -> bool:
    head = content[:2048]
    if head.startswith(_UTF8_BOM):
        head = head[len(_UTF8_BOM):]
    head = head.lstrip().lower()
    if head.startswith((b"<!doctype", b"<html")):
        return True
    if _HTML_START.match(head) and (head.startswith(b"<!--") or b"</" in head or b"/>" in head):
        return True
    # A text/html response whose body starts with a tag (<head>, <!-- ..., <body>).
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type in ("text/html", "application/xhtml+xml") and head.startswith(b"<")


def _html_title(content: bytes) -> str | None:
    match = re.search(rb"<title[^>]*>(.*?)</title\s*>", content[:65536], re.IGNORECASE | re.DOTALL)
    if not match:
        return None
    title = " ".join(match.group(1).decode("utf-8", errors="replace").split())
    return title[:120] or None


def _short_snippet(content: bytes, limit: int = 200) -> str:
    text = " ".join(decode_csv_bytes(content[: limit * 4]).split())
    return text[:limit] + ("…" if len(text) > limit else "")


def _norm(name: str) -> str:
    return name.strip().casefold()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# --------------------------------------------------------------------------- validation


def _parse_header_and_check_complete(text: str) -> list[str]:
    """Return the header; raise _Problem if the CSV looks cut off.

    Truncation signs: the text ends inside a quoted field, or the last line has fewer
    fields than the header while every other line has the full count (if other lines
    are short too the file is just ragged, and we cannot tell).
    """
    header: list[str] | None = None
    last: list[str] | None = None
    short_before_last = 0
    last_is_short = False

    def rows(strict: bool):
        return csv.reader(io.StringIO(text, newline=""), strict=strict)

    def scan(reader) -> None:
        nonlocal header, last, short_before_last, last_is_short
        for row in reader:
            if not row:  # blank line
                continue
            if header is None:
                header = row
                continue
            if last_is_short:
                short_before_last += 1
            last = row
            last_is_short = len(row) < len(header)

    try:
        scan(rows(strict=True))
    except csv.Error as exc:
        message = str(exc)
        if "unexpected end of data" in message or "field larger than field limit" in message:
            raise _Problem(
                "the last record ends inside a quoted field (an unterminated \"), "
                "so the file was cut off",
                advice="This is usually a download interrupted mid-way; try again.",
                kind=TruncatedCSVError,
                retryable=True,
            ) from None
        # Some other quoting irregularity (e.g. text after a closing quote) somewhere in
        # the file: strict parsing stops there. Re-read leniently, like most CSV readers.
        header, last, short_before_last, last_is_short = None, None, 0, False
        try:
            scan(rows(strict=False))
        except csv.Error as exc2:
            raise _Problem(
                f"the content could not be read as CSV ({exc2})",
                advice="Check that the location really serves a comma-separated export.",
            ) from None
    if header is None:
        raise _Problem(
            "the content has no header row (only blank lines)",
            advice="Check that the sheet / export has data and that the right tab is exported.",
            kind=EmptyCSVError,
        )
    if last is not None and last_is_short and short_before_last == 0:
        raise _Problem(
            f"the last line has {_plural(len(last), 'field')} but the header has "
            f"{len(header)}, so the file was cut off",
            advice="This is usually a download interrupted mid-way; try again.",
            kind=TruncatedCSVError,
            retryable=True,
        )
    return header


def _validate_content(
    content: bytes,
    content_type: str | None,
    required_columns: Sequence[str],
    *,
    is_http: bool,
    final_url_note: str = "",
) -> list[str]:
    """Run the content checks shared by HTTP and local files; return the header."""
    if _looks_like_html(content, content_type):
        title = _html_title(content)
        where = "the URL returned" if is_http else "the file is"
        title_note = f" (page title: {title!r})" if title else ""
        raise _Problem(
            f"{where} a web page (a sign-in or error page), not CSV{title_note}{final_url_note}",
            advice=(
                "Publish the sheet / share it with 'anyone with the link' and use the CSV "
                "export URL (https://docs.google.com/spreadsheets/d/<sheet id>/export?format=csv&gid=<tab id>)"
                + ("; for the CRM, check the export URL and the token." if is_http else ".")
            ),
            kind=NotCSVError,
        )
    stripped = content[len(_UTF8_BOM):] if content.startswith(_UTF8_BOM) else content
    if not stripped.strip(b" \t\r\n\x00"):
        raise _Problem(
            "the download was empty" if is_http else "the file is empty",
            advice=(
                "Check that the sheet has data and that the export URL points at the right "
                "tab (the gid parameter)." if is_http else "Export the sheet again."
            ),
            kind=EmptyCSVError,
        )
    header = _parse_header_and_check_complete(decode_csv_bytes(content))
    if required_columns:
        present = {_norm(h) for h in header}
        missing = [c for c in required_columns if _norm(c) not in present]
        if missing:
            hint = ""
            if len(header) == 1 and any(sep in header[0] for sep in (";", "\t", "|")):
                sep = next(s for s in (";", "\t", "|") if s in header[0])
                hint = f" The header looks {sep!r}-separated rather than comma-separated."
            shown_found = ", ".join(repr(h) for h in header[:40])
            if len(header) > 40:
                shown_found += f", … ({len(header) - 40} more)"
            raise _Problem(
                f"missing required column(s) {', '.join(repr(c) for c in missing)}; "
                f"found columns: {shown_found or '(none)'}",
                advice=(
                    "Check that the right sheet/tab is exported and that its header row "
                    "was not renamed or moved (names are compared ignoring case and "
                    "surrounding spaces)." + hint
                ),
                kind=MissingColumnsError,
                extra={"missing": missing, "found": list(header)},
            )
    return header


# --------------------------------------------------------------------------- local files


def _local_path(location: str) -> Path:
    if location.lower().startswith("file://"):
        parts = urllib.parse.urlsplit(location)
        if parts.netloc not in ("", "localhost"):
            path = f"//{parts.netloc}{parts.path}"
        else:
            path = parts.path
        return Path(urllib.request.url2pathname(path))
    return Path(location).expanduser()


def _read_local(location: str, required_columns: Sequence[str], what: str) -> FetchedCSV:
    path = _local_path(location)
    shown = str(path)

    def fail(problem: _Problem) -> FetchError:
        message = f"{what}: cannot use {shown}: {problem.problem}."
        advice = problem.advice
        if problem.kind is TruncatedCSVError:
            advice = "The file is incomplete; export or download it again."
        if advice:
            message += f" {advice}"
        kind = problem.kind
        if kind is MissingColumnsError:
            return MissingColumnsError(message, location=shown, attempts=1, **problem.extra)
        return kind(message, location=shown, attempts=1)

    if not path.exists():
        absolute = path if path.is_absolute() else Path.cwd() / path
        raise FetchError(
            f"{what}: file not found: {shown} (looked for {absolute}). Check the path "
            "(relative paths are resolved from the current directory), or set the "
            "location to the sheet's CSV export URL (http/https) instead.",
            location=shown,
        )
    if path.is_dir():
        raise FetchError(
            f"{what}: {shown} is a directory, not a CSV file. Point the location at the "
            ".csv file itself.",
            location=shown,
        )
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise FetchError(
            f"{what}: cannot read {shown}: {exc.strerror or exc}. Check the file's permissions.",
            location=shown,
        ) from None
    try:
        header = _validate_content(content, None, required_columns, is_http=False)
    except _Problem as problem:
        raise fail(problem) from None
    return FetchedCSV(
        content=content,
        location=shown,
        header=header,
        fetched_at=datetime.now(timezone.utc),
        attempts=1,
        sha256=hashlib.sha256(content).hexdigest(),
    )


# --------------------------------------------------------------------------- HTTP


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return max(0.0, min(seconds, _MAX_RETRY_AFTER))


def _describe_status(resp: requests.Response) -> str:
    reason = (resp.reason or "").strip()
    return f"HTTP {resp.status_code}" + (f" {reason}" if reason else "")


def _status_problem(resp: requests.Response, body: bytes, secrets: Sequence[str]) -> _Problem:
    status = resp.status_code
    described = _describe_status(resp)
    if status == 429 or status >= 500:
        return _Problem(
            f"the server answered {described}",
            advice=(
                "The server is overloaded or failing; try again later."
                if status != 429
                else "The server is rate-limiting us; run less often or try again later."
            ),
            status=status,
            retryable=True,
            retry_after=_retry_after_seconds(resp.headers.get("Retry-After")),
        )
    detail = ""
    if body and not _looks_like_html(body, resp.headers.get("Content-Type")):
        snippet = _redact_text(_short_snippet(body), secrets)
        if snippet:
            detail = f" (server said: {snippet!r})"
    if status in (401, 403):
        advice = (
            "Access was refused: the link is not shared publicly / the token is wrong. "
            "For a Google Sheet, share it with 'Anyone with the link' (Viewer) or publish "
            "it to the web; for the CRM, check the token and that it has not expired."
        )
    elif status in (404, 410):
        advice = (
            "Check the URL (for a Google Sheet: the sheet id and the gid of the tab; "
            "for the CRM: the export path)."
        )
    else:
        advice = "Check the URL and its parameters."
    return _Problem(f"the server answered {described}{detail}", advice=advice, status=status)


def _connection_problem(exc: requests.RequestException, timeout: float, secrets: Sequence[str]) -> _Problem:
    text = _redact_text(str(exc), secrets)
    if isinstance(exc, requests.exceptions.SSLError):
        return _Problem(
            f"the secure (TLS) connection failed ({text})",
            advice="Check the certificate of the server (or REQUESTS_CA_BUNDLE).",
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return _Problem(
            f"could not connect within {timeout:g} s",
            advice="Check the network / that the server is up; raise the timeout if it is slow.",
            retryable=True,
        )
    if isinstance(exc, requests.exceptions.Timeout) or "timed out" in text.lower():
        return _Problem(
            f"the server did not send data within {timeout:g} s (timeout)",
            advice="The server is slow or stuck; try again later or raise the timeout.",
            retryable=True,
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        match = re.search(r"\[Errno -?\d+\][^'\")]*", text)
        reason = match.group(0).strip() if match else "connection failed"
        return _Problem(
            f"could not connect ({reason})",
            advice="Check the host name and port, your network, and that the server is running.",
            retryable=True,
        )
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return _Problem(
            "the server redirected too many times",
            advice="Check the URL; a login redirect loop usually means the link is not public.",
        )
    if isinstance(exc, (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
                        requests.exceptions.InvalidURL)):
        return _Problem(f"the URL is not valid ({text})", advice="Check the URL.")
    return _Problem(f"the request failed ({type(exc).__name__}: {text})", advice="Check the URL.",
                    retryable=False)


def _download_once(
    session: requests.Session,
    url: str,
    *,
    timeout: float,
    headers: Mapping[str, str],
    params: Mapping[str, object] | None,
    required_columns: Sequence[str],
    secrets: Sequence[str],
) -> tuple[bytes, list[str]]:
    """One GET; returns (content, header) or raises _Problem."""
    try:
        resp = session.get(
            url, params=params, headers=dict(headers), timeout=(timeout, timeout), stream=True
        )
    except requests.RequestException as exc:
        raise _connection_problem(exc, timeout, secrets) from None
    with resp:
        buffer = bytearray()
        read_error: requests.RequestException | None = None
        try:
            for chunk in resp.iter_content(_CHUNK):
                buffer.extend(chunk)
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError,
                requests.exceptions.ContentDecodingError) as exc:
            read_error = exc
        except requests.RequestException as exc:  # pragma: no cover - defensive
            read_error = exc
        content = bytes(buffer)

        announced = _content_length(resp)
        received_wire = _wire_bytes(resp, len(content))
        if read_error is not None or (announced is not None and received_wire < announced):
            if read_error is not None and _is_timeout(read_error):
                problem = _connection_problem(read_error, timeout, secrets)
                problem.problem += (
                    f" after {received_wire:,} bytes of the body" if received_wire
                    else " after sending the response headers"
                )
                raise problem
            if resp.status_code >= 400:
                # A broken error response: report the status, it is the real news.
                raise _status_problem(resp, b"", secrets)
            if announced is not None:
                got = f"received {received_wire:,} of the {announced:,} bytes the server announced"
            else:
                got = f"the connection broke after {received_wire:,} bytes"
            raise _Problem(
                f"the download was cut off ({got})",
                advice="This is usually a network hiccup or an overloaded server; try again.",
                kind=TruncatedCSVError,
                status=resp.status_code,
                retryable=True,
            )
        if resp.status_code >= 400:
            raise _status_problem(resp, content, secrets)
        if resp.status_code >= 300:
            raise _Problem(
                f"the server answered {_describe_status(resp)} without a usable redirect",
                advice="Check the URL.",
                status=resp.status_code,
            )
        final_note = ""
        if resp.url and _strip_query(resp.url) != _strip_query(url):
            final_note = f" after a redirect to {_scrub_secrets(redact_url(_strip_query(resp.url)), secrets)}"
        try:
            header = _validate_content(
                content,
                resp.headers.get("Content-Type"),
                required_columns,
                is_http=True,
                final_url_note=final_note,
            )
        except _Problem as problem:
            problem.status = resp.status_code
            raise
        return content, header


def _strip_query(url: str) -> str:
    return url.split("?", 1)[0].split("#", 1)[0]


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, requests.exceptions.Timeout) or "timed out" in str(exc).lower()


def _content_length(resp: requests.Response) -> int | None:
    value = resp.headers.get("Content-Length")
    if not value or resp.request is None or resp.request.method == "HEAD":
        return None
    values = {v.strip() for v in value.split(",")}
    if len(values) != 1:
        return None
    try:
        length = int(values.pop())
    except ValueError:
        return None
    return length if length >= 0 else None


def _wire_bytes(resp: requests.Response, decoded_length: int) -> int:
    """Bytes received on the wire (the compressed size if a Content-Encoding applies).

    urllib3 counts them (``tell()``), including bytes of a last chunk that was cut off
    and therefore never handed to us; without that we fall back to what we received.
    """
    encoding = (resp.headers.get("Content-Encoding") or "identity").strip().lower()
    tell = getattr(resp.raw, "tell", None)
    try:
        wire = int(tell()) if callable(tell) else None
    except Exception:  # pragma: no cover - defensive
        wire = None
    if wire is None:
        return decoded_length
    return wire if encoding not in ("", "identity") else max(wire, decoded_length)


def fetch_csv(
    location: str,
    *,
    timeout: float = 30,
    retries: int = 3,
    backoff: float = 1.0,
    headers: dict | None = None,
    params: dict | None = None,
    required_columns: Sequence[str] = (),
    what: str = "CSV export",
    sleep: Callable[[float], object] = time.sleep,
    secrets: Sequence[str] = (),
    warn: Callable[[str], object] | None = None,
) -> FetchedCSV:
    """Fetch a CSV export from an http(s) URL or a local file and check it is complete.

    Args:
        location: an ``http://`` / ``https://`` URL (e.g. a Google Sheet's
            ``.../export?format=csv&gid=0`` link or a CRM dump endpoint), a local
            path, or a ``file://`` URL.
        timeout: seconds to wait for the connection and for each read from the server
            (not a cap on the total download time).
        retries: how many times to retry after the first attempt (so at most
            ``retries + 1`` requests) on connection errors, timeouts, HTTP 429 / 5xx
            and truncated downloads.
        backoff: the n-th retry (n = 0, 1, ...) waits ``backoff * 2**n`` seconds, or
            longer if the server sent ``Retry-After`` (capped at 120 s).
        headers: extra request headers, e.g. ``{"Authorization": "Bearer <token>"}``.
        params: extra query parameters, e.g. ``{"token": "<token>"}``; merged into the URL.
        required_columns: column names that must be in the header (compared ignoring
            case and surrounding whitespace).
        what: a human name for the data, used at the start of error messages
            (e.g. ``"Leads sheet"``).
        sleep: called with the number of seconds to wait between attempts (inject a
            no-op in tests).
        secrets: values that must never be printed, whatever carries them (e.g. an access
            token in a query parameter whose name does not look secret, such as ``access``):
            scrubbed by value from the location, every retry warning and every error.
        warn: called with each retry warning (secrets scrubbed), e.g. a Dagster step's
            ``context.log.warning`` so the retry shows in the run's log; default: this
            module's logger.

    Returns:
        A `FetchedCSV` with the raw bytes, the redacted location, the header, the UTC
        fetch time, the number of attempts and the SHA-256 of the content.

    Raises:
        FetchError: (or a subclass: `NotCSVError`, `TruncatedCSVError`, `EmptyCSVError`,
            `MissingColumnsError`) with a plain-language message that names the
            (redacted) location, says what went wrong and what to do.
    """
    if retries < 0:
        raise ValueError("retries must be >= 0")
    location = location.strip()
    match = _SCHEME.match(location)
    scheme = match["scheme"].lower() if match else ""
    if not scheme or scheme == "file":
        return _read_local(location, required_columns, what)
    secrets = [*_secret_values(location, headers, params), *(s for s in secrets if s)]
    try:
        prepared_url = requests.Request("GET", location, params=params).prepare().url or location
    except requests.RequestException as exc:
        shown = _scrub_secrets(redact_url(location), secrets)
        raise FetchError(
            f"{what}: the location {shown} is not a valid URL ({_redact_text(str(exc), secrets)}). "
            "Check the URL.",
            location=shown,
        ) from None
    shown = _scrub_secrets(redact_url(prepared_url), secrets)
    if scheme not in ("http", "https"):
        raise FetchError(
            f"{what}: unsupported location {shown}: only http(s) URLs and local files are "
            "supported. Use the sheet's CSV export URL or download the file first.",
            location=shown,
        )

    request_headers = {"User-Agent": USER_AGENT, "Accept": _ACCEPT}
    request_headers.update({str(k): str(v) for k, v in (headers or {}).items()})

    attempts = 0
    with requests.Session() as session:
        while True:
            attempts += 1
            try:
                content, header = _download_once(
                    session,
                    location,
                    timeout=timeout,
                    headers=request_headers,
                    params=params,
                    required_columns=required_columns,
                    secrets=secrets,
                )
            except _Problem as problem:
                if problem.retryable and attempts <= retries:
                    delay = backoff * 2 ** (attempts - 1)
                    if problem.retry_after is not None:
                        delay = max(delay, problem.retry_after)
                    (warn or log.warning)(_scrub_secrets(
                        f"{what}: attempt {attempts} of {retries + 1} for {shown} failed: "
                        f"{problem.problem}; retrying in {delay:.1f} s",
                        secrets,
                    ))
                    sleep(delay)
                    continue
                raise _public_error(problem, what=what, shown=shown, attempts=attempts,
                                    secrets=secrets) from None
            break

    return FetchedCSV(
        content=content,
        location=shown,
        header=header,
        fetched_at=datetime.now(timezone.utc),
        attempts=attempts,
        sha256=hashlib.sha256(content).hexdigest(),
    )


def is_transient(exc: FetchError) -> bool:
    """Whether trying the same download again later may succeed: timeouts, refused connections,
    429 / 5xx and cut-off downloads may; an HTML page, an empty file, missing columns or another
    4xx (a wrong token, a wrong URL) will not fix themselves."""
    if isinstance(exc, TruncatedCSVError):
        return True
    if isinstance(exc, (NotCSVError, MissingColumnsError, EmptyCSVError)):
        return False
    return not (exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408, 429))


def _public_error(
    problem: _Problem, *, what: str, shown: str, attempts: int, secrets: Sequence[str]
) -> FetchError:
    if problem.retryable:
        message = (
            f"{what}: could not fetch {shown}: gave up after {_plural(attempts, 'attempt')}; "
            f"last error: {problem.problem}"
        )
        if (problem.status is not None and not 200 <= problem.status < 300
                and f"HTTP {problem.status}" not in problem.problem):
            message += f" (last HTTP status {problem.status})"
        message += "."
    else:
        message = f"{what}: could not use {shown}: {problem.problem}."
        if attempts > 1:
            message += f" (after {_plural(attempts, 'attempt')})"
    if problem.advice:
        message += f" {problem.advice}"
    message = _scrub_secrets(message, secrets)
    if problem.kind is MissingColumnsError:
        return MissingColumnsError(
            message, location=shown, status=problem.status, attempts=attempts, **problem.extra
        )
    return problem.kind(message, location=shown, status=problem.status, attempts=attempts)
