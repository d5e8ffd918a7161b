"""Tests for funnel_assets.lib.fetch against a real local HTTP server."""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
import urllib3.response

from funnel_assets.lib.fetch import (
    EmptyCSVError,
    FetchedCSV,
    FetchError,
    MissingColumnsError,
    NotCSVError,
    TruncatedCSVError,
    decode_csv_bytes,
    fetch_csv,
    redact_url,
)
from funnel_assets_tests.http_server import LocalHTTPServer, ScriptedResponse, closed_port_url

pytestmark = pytest.mark.timeout(30)

CSV = (
    "Name,Email,Phone,City,Question 1,utmSource,utmMedium,utmCamp,created date\r\n"
    "Asha Rao,asha@gmail.com,+91 98765 43211,Pune,ACCA,facebook,paid_social,acca_webinar_meta,3/1/2025 9:05:33\r\n"
    '"Verma, Ravi",ravi@yahoo.com,09876543212,Delhi,"ACCA, CMA",google,cpc,acca_webinar_google,3/1/2025 10:00:00'
)
SIGN_IN_PAGE = (
    "\n  <!DOCTYPE html><html lang=en><head><title>Sign in - Google Accounts</title></head>"
    "<body>Sign in to continue to Sheets</body></html>"
)
SECRET = "s3cr3t-T0ken-value"


class Sleeps(list):
    """A fake `sleep` that records the requested delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        yield srv


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture(autouse=True)
def _quiet_retry_warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="funnel_assets.lib.fetch")


# --------------------------------------------------------------------------- happy path


def test_good_csv(server: LocalHTTPServer, sleeps: Sleeps) -> None:
    server.enqueue("/sheet.csv", ScriptedResponse.csv(CSV))
    before = datetime.now(timezone.utc)

    got = fetch_csv(server.url("/sheet.csv?format=csv&gid=0"), sleep=sleeps,
                    required_columns=["name", " EMAIL ", "Phone", "created date"])

    assert isinstance(got, FetchedCSV)
    assert got.content == CSV.encode()
    assert got.header[0] == "Name" and got.header[-1] == "created date" and len(got.header) == 9
    assert got.attempts == 1 and sleeps == []
    assert got.sha256 == hashlib.sha256(CSV.encode()).hexdigest()
    assert got.fetched_at.tzinfo is not None and got.fetched_at.utcoffset() == timedelta(0)
    assert got.fetched_at >= before
    assert got.location == server.url("/sheet.csv?format=csv&gid=0")
    assert got.text() == CSV
    (request,) = server.requests
    assert request.method == "GET" and request.query == {"format": ["csv"], "gid": ["0"]}


def test_bom_is_kept_in_content_and_stripped_from_header(server: LocalHTTPServer) -> None:
    body = b"\xef\xbb\xbf" + CSV.encode()
    server.enqueue("/bom.csv", ScriptedResponse.csv(body))
    got = fetch_csv(server.url("/bom.csv"), required_columns=["Name"])
    assert got.content == body
    assert got.header[0] == "Name"


def test_ragged_file_is_not_called_truncated(server: LocalHTTPServer) -> None:
    # Some exports drop trailing empty fields on every short row: not a truncation sign.
    body = "a,b,c\n1,2\n3,4,5\n6,7\n"
    server.enqueue("/ragged.csv", ScriptedResponse.csv(body))
    assert fetch_csv(server.url("/ragged.csv")).header == ["a", "b", "c"]


# --------------------------------------------------------------------------- retries


def test_500_then_200_is_retried(server: LocalHTTPServer, sleeps: Sleeps) -> None:
    server.enqueue("/sheet.csv", ScriptedResponse(status=500, body="oops"), ScriptedResponse.csv(CSV))
    got = fetch_csv(server.url("/sheet.csv"), sleep=sleeps, backoff=0.5)
    assert got.attempts == 2
    assert sleeps == [0.5]
    assert len(server.requests_for("/sheet.csv")) == 2


def test_503_forever_gives_up_with_attempts_and_last_status(server: LocalHTTPServer, sleeps: Sleeps) -> None:
    server.set_default("/sheet.csv", ScriptedResponse(status=503, body="down for maintenance"))
    with pytest.raises(FetchError) as info:
        fetch_csv(server.url("/sheet.csv"), retries=3, backoff=1.0, sleep=sleeps, what="Leads sheet")
    message = str(info.value)
    assert message.startswith("Leads sheet")
    assert "4 attempts" in message
    assert "HTTP 503" in message
    assert info.value.status == 503 and info.value.attempts == 4
    assert sleeps == [1.0, 2.0, 4.0]  # exponential backoff between the 4 attempts
    assert len(server.requests) == 4


def test_429_honours_retry_after(server: LocalHTTPServer, sleeps: Sleeps) -> None:
    server.enqueue(
        "/crm/leads.csv",
        ScriptedResponse(status=429, headers={"Retry-After": "7"}),
        ScriptedResponse.csv(CSV),
    )
    got = fetch_csv(server.url("/crm/leads.csv"), sleep=sleeps, backoff=1.0)
    assert got.attempts == 2
    assert sleeps == [7.0]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (404, "check the url"),
        (401, "the link is not shared publicly / the token is wrong"),
        (403, "the link is not shared publicly / the token is wrong"),
        (400, "check the url"),
    ],
)
def test_client_errors_fail_at_once(server: LocalHTTPServer, sleeps: Sleeps, status: int, expected: str) -> None:
    server.set_default("/sheet.csv", ScriptedResponse(status=status, body="nope"))
    with pytest.raises(FetchError) as info:
        fetch_csv(server.url("/sheet.csv"), sleep=sleeps)
    assert f"HTTP {status}" in str(info.value)
    assert expected in str(info.value).lower()
    assert info.value.status == status and info.value.attempts == 1
    assert len(server.requests) == 1 and sleeps == []


def test_timeout_then_success(server: LocalHTTPServer, sleeps: Sleeps) -> None:
    server.enqueue("/slow.csv", ScriptedResponse.csv(CSV, delay=1.0), ScriptedResponse.csv(CSV))
    got = fetch_csv(server.url("/slow.csv"), timeout=0.2, sleep=sleeps)
    assert got.attempts == 2 and got.content == CSV.encode()
    assert len(sleeps) == 1


def test_stalled_body_times_out(server: LocalHTTPServer, sleeps: Sleeps) -> None:
    server.set_default("/stall.csv", ScriptedResponse.csv(CSV, body_delay=1.0))
    with pytest.raises(FetchError) as info:
        fetch_csv(server.url("/stall.csv"), timeout=0.2, retries=1, sleep=sleeps)
    assert "did not send data within 0.2 s" in str(info.value)
    assert "2 attempts" in str(info.value)


def test_connection_refused(sleeps: Sleeps) -> None:
    url = closed_port_url("/export.csv")
    with pytest.raises(FetchError) as info:
        fetch_csv(url, retries=2, sleep=sleeps)
    message = str(info.value)
    assert "could not connect" in message and "refused" in message.lower()
    assert "3 attempts" in message
    assert info.value.attempts == 3 and info.value.status is None
    assert len(sleeps) == 2


def test_dropped_connection_is_retried(server: LocalHTTPServer, sleeps: Sleeps) -> None:
    server.enqueue("/sheet.csv", ScriptedResponse(drop=True), ScriptedResponse.csv(CSV))
    assert fetch_csv(server.url("/sheet.csv"), sleep=sleeps).attempts == 2


# --------------------------------------------------------------------------- truncation


def test_truncated_body_is_retried_then_succeeds(server: LocalHTTPServer, sleeps: Sleeps) -> None:
    server.enqueue("/sheet.csv", ScriptedResponse.csv(CSV, close_after=40), ScriptedResponse.csv(CSV))
    got = fetch_csv(server.url("/sheet.csv"), sleep=sleeps)
    assert got.attempts == 2 and got.content == CSV.encode()


def test_truncated_body_forever(server: LocalHTTPServer, sleeps: Sleeps) -> None:
    server.set_default("/sheet.csv", ScriptedResponse.csv(CSV, close_after=120))
    with pytest.raises(TruncatedCSVError) as info:
        fetch_csv(server.url("/sheet.csv"), retries=2, sleep=sleeps)
    message = str(info.value)
    assert "cut off" in message and f"120 of the {len(CSV.encode())} bytes" in message
    assert "3 attempts" in message


def test_short_body_detected_even_when_urllib3_does_not_raise(
    server: LocalHTTPServer, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Older urllib3 (or enforce_content_length=False) silently returns a short body."""
    original_init = urllib3.response.HTTPResponse.__init__

    def lenient_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs["enforce_content_length"] = False
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(urllib3.response.HTTPResponse, "__init__", lenient_init)
    # cut exactly after the first data row, so the CSV itself looks complete
    cut = len(CSV.split("\r\n")[0]) + 2 + len(CSV.split("\r\n")[1]) + 2
    server.set_default("/sheet.csv", ScriptedResponse.csv(CSV, close_after=cut))

    # precondition: requests really hands back the short body without raising
    short = requests.get(server.url("/sheet.csv"), timeout=5)
    assert len(short.content) == cut < int(short.headers["Content-Length"])

    with pytest.raises(TruncatedCSVError) as info:
        fetch_csv(server.url("/sheet.csv"), retries=1, sleep=sleeps)
    assert f"received {cut} of the {len(CSV.encode())} bytes" in str(info.value)


def test_unterminated_quote_is_truncation(server: LocalHTTPServer, sleeps: Sleeps) -> None:
    body = CSV[: CSV.rindex('"ACCA, CMA"') + 5]  # ... ,"ACCA   (Content-Length matches)
    server.set_default("/sheet.csv", ScriptedResponse.csv(body))
    with pytest.raises(TruncatedCSVError) as info:
        fetch_csv(server.url("/sheet.csv"), retries=1, sleep=sleeps)
    assert "quoted field" in str(info.value)
    assert info.value.attempts == 2  # retried: a truncated export may come whole next time


def test_short_last_line_is_truncation(server: LocalHTTPServer, sleeps: Sleeps) -> None:
    body = CSV[: CSV.rindex(",google")]  # last line stops after 5 fields
    server.enqueue("/sheet.csv", ScriptedResponse.csv(body), ScriptedResponse.csv(CSV))
    assert fetch_csv(server.url("/sheet.csv"), sleep=sleeps).attempts == 2

    server.set_default("/short.csv", ScriptedResponse.csv(body))
    with pytest.raises(TruncatedCSVError) as info:
        fetch_csv(server.url("/short.csv"), retries=0, sleep=sleeps)
    assert "last line has 5 fields but the header has 9" in str(info.value)


def test_gzip_encoded_download_and_its_truncation(server: LocalHTTPServer, sleeps: Sleeps) -> None:
    body = ("Name,Email\r\n" + "".join(f"Lead {i},lead{i}@gmail.com\r\n" for i in range(3000))).encode()
    packed = gzip.compress(body)
    server.enqueue("/gz.csv", ScriptedResponse.csv(packed, headers={"Content-Encoding": "gzip"}))
    assert fetch_csv(server.url("/gz.csv")).content == body

    server.set_default("/cut.csv", ScriptedResponse.csv(packed, headers={"Content-Encoding": "gzip"},
                                                        close_after=len(packed) // 2))
    with pytest.raises(TruncatedCSVError):
        fetch_csv(server.url("/cut.csv"), retries=0, sleep=sleeps)


# --------------------------------------------------------------------------- not CSV


def test_html_error_page_with_status_200(server: LocalHTTPServer, sleeps: Sleeps) -> None:
    server.set_default("/sheet.csv", ScriptedResponse.html(SIGN_IN_PAGE))
    with pytest.raises(NotCSVError) as info:
        fetch_csv(server.url("/sheet.csv"), sleep=sleeps)
    message = str(info.value)
    assert "web page" in message and "not CSV" in message
    assert "anyone with the link" in message and "CSV export URL" in message
    assert "Sign in - Google Accounts" in message
    assert len(server.requests) == 1  # not retried: it will not fix itself


def test_html_detected_by_content_even_if_labelled_csv(server: LocalHTTPServer) -> None:
    body = b"\xef\xbb\xbf \r\n<!doctype html><html><body>Error 500 (Server Error)!!1</body></html>"
    server.set_default("/sheet.csv", ScriptedResponse.csv(body))
    with pytest.raises(NotCSVError):
        fetch_csv(server.url("/sheet.csv"))


FETCH_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fetch"


@pytest.mark.parametrize(
    "body",
    [
        (FETCH_FIXTURES / "proxy_session_expired_fragment.csv").read_bytes(),  # was "cut off"
        b"<div>Sign in</div>",
        b"<p>Error</p>\n<p>Something went wrong, try again later</p>\n",
        b"\xef\xbb\xbf\n\t<!-- served by edge-proxy -->\n<div>Sign in</div>\n",
    ],
    ids=["indented-table", "div", "p-lines", "bom-comment"],
)
def test_html_fragment_labelled_csv_is_called_a_web_page(server: LocalHTTPServer, sleeps: Sleeps, body: bytes) -> None:
    server.set_default("/exports/sales.csv", ScriptedResponse.csv(body, content_type="text/csv"))
    with pytest.raises(NotCSVError) as info:
        fetch_csv(server.url("/exports/sales.csv"), sleep=sleeps)
    message = str(info.value)
    assert "the URL returned a web page (a sign-in or error page), not CSV" in message
    assert "cut off" not in message and "anyone with the link" in message and "token" in message
    assert len(server.requests) == 1  # not retried as a cut-off download would be


def test_html_fragment_in_a_local_file_is_called_a_web_page(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes((FETCH_FIXTURES / "sheet_permission_fragment.csv").read_bytes())
    with pytest.raises(NotCSVError) as info:
        fetch_csv(str(path), required_columns=["Email"])
    assert "the file is a web page (a sign-in or error page), not CSV" in str(info.value)


@pytest.mark.parametrize("body", ["<b>,c\n1,2\n", "<5,b\n1,2\n", "a,b\n<div>,2\n"])
def test_csv_with_angle_brackets_is_still_csv(server: LocalHTTPServer, body: str) -> None:
    server.set_default("/sheet.csv", ScriptedResponse.csv(body))
    assert fetch_csv(server.url("/sheet.csv")).header[1] in ("b", "c")


def test_html_after_redirect_names_where_it_ended(server: LocalHTTPServer) -> None:
    server.set_default("/export", ScriptedResponse(status=302, headers={"Location": "/accounts/signin"}))
    server.set_default("/accounts/signin", ScriptedResponse.html(SIGN_IN_PAGE))
    with pytest.raises(NotCSVError) as info:
        fetch_csv(server.url("/export?format=csv"))
    assert "/accounts/signin" in str(info.value)


def test_empty_body(server: LocalHTTPServer) -> None:
    server.set_default("/sheet.csv", ScriptedResponse.csv(""))
    with pytest.raises(EmptyCSVError) as info:
        fetch_csv(server.url("/sheet.csv"))
    assert "empty" in str(info.value)
    assert len(server.requests) == 1


def test_missing_required_columns(server: LocalHTTPServer) -> None:
    server.set_default("/sheet.csv", ScriptedResponse.csv("Full Name,E-mail\r\nA,a@b.c\r\n"))
    with pytest.raises(MissingColumnsError) as info:
        fetch_csv(server.url("/sheet.csv"), required_columns=["Name", "Email", "Full name"])
    error = info.value
    assert error.missing == ["Name", "Email"]
    assert error.found == ["Full Name", "E-mail"]
    assert "'Name', 'Email'" in str(error) and "'Full Name', 'E-mail'" in str(error)
    assert len(server.requests) == 1


def test_semicolon_separated_header_gets_a_hint(server: LocalHTTPServer) -> None:
    server.set_default("/sheet.csv", ScriptedResponse.csv("Name;Email\r\nA;a@b.c\r\n"))
    with pytest.raises(MissingColumnsError) as info:
        fetch_csv(server.url("/sheet.csv"), required_columns=["Email"])
    assert "';'-separated" in str(info.value)


# --------------------------------------------------------------------------- secrets


def test_token_in_query_string_is_redacted(server: LocalHTTPServer, sleeps: Sleeps) -> None:
    server.set_default("/crm/export", ScriptedResponse(status=401, body=f"invalid token {SECRET}"))
    with pytest.raises(FetchError) as info:
        fetch_csv(server.url(f"/crm/export?token={SECRET}&table=leads"), sleep=sleeps)
    assert SECRET not in str(info.value) and SECRET not in info.value.location
    assert "token=***" in str(info.value) and "table=leads" in str(info.value)
    assert "the token is wrong" in str(info.value)
    assert server.requests[0].query_value("token") == SECRET  # it was sent, just not printed

    with pytest.raises(FetchError) as info:
        fetch_csv(server.url("/crm/export"), params={"api_key": SECRET}, sleep=sleeps)
    assert SECRET not in str(info.value) and "api_key=***" in str(info.value)


def test_secret_in_a_parameter_with_any_name_is_scrubbed_by_value(server: LocalHTTPServer, sleeps: Sleeps) -> None:
    token = "Zx9-crm/T0ken+value"  # URL-encoded on the wire
    server.enqueue("/crm/export", ScriptedResponse(status=503), ScriptedResponse.csv(CSV))
    warnings: list[str] = []
    got = fetch_csv(server.url("/crm/export"), params={"access": token}, secrets=[token], sleep=sleeps, warn=warnings.append)
    assert [r.query_value("access") for r in server.requests] == [token, token]
    assert len(warnings) == 1 and "attempt 1 of 4" in warnings[0] and "access=***" in warnings[0]
    assert "T0ken" not in warnings[0] and "T0ken" not in got.location

    server.set_default("/crm/export", ScriptedResponse(status=502, body=f"upstream refused {token}"))
    with pytest.raises(FetchError) as info:
        fetch_csv(server.url("/crm/export"), params={"access": token}, secrets=[token], retries=1, sleep=sleeps, warn=warnings.append)
    assert "T0ken" not in str(info.value) and "T0ken" not in info.value.location and "T0ken" not in "".join(warnings)


def test_token_redacted_from_connection_errors(sleeps: Sleeps) -> None:
    url = closed_port_url(f"/crm/export?access_token={SECRET}")
    with pytest.raises(FetchError) as info:
        fetch_csv(url, retries=0, params={"password": "hunter2-pw"}, sleep=sleeps)
    assert SECRET not in str(info.value) and "hunter2-pw" not in str(info.value)
    assert SECRET not in repr(info.value.args)


def test_successful_fetch_location_is_redacted(server: LocalHTTPServer) -> None:
    server.set_default("/crm/export", ScriptedResponse.csv(CSV))
    got = fetch_csv(server.url("/crm/export"), params={"token": SECRET, "table": "leads"})
    assert SECRET not in got.location
    assert got.location == server.url("/crm/export?token=***&table=leads")


def test_header_token_is_sent(server: LocalHTTPServer) -> None:
    server.set_default("/crm/export", ScriptedResponse.csv(CSV))
    fetch_csv(server.url("/crm/export"), headers={"Authorization": f"Bearer {SECRET}", "X-Workspace": "sales"})
    (request,) = server.requests
    assert request.header("authorization") == f"Bearer {SECRET}"
    assert request.header("X-Workspace") == "sales"
    assert "funnel-assets" in (request.header("User-Agent") or "")


def test_header_token_not_echoed_in_errors(server: LocalHTTPServer) -> None:
    server.set_default("/crm/export", ScriptedResponse(status=403, body=f"token {SECRET} has expired"))
    with pytest.raises(FetchError) as info:
        fetch_csv(server.url("/crm/export"), headers={"X-Api-Key": SECRET})
    assert SECRET not in str(info.value)
    assert "has expired" in str(info.value)


def test_redact_url() -> None:
    assert redact_url("https://crm.example.com/export?table=leads&apiKey=abc&Auth=x&gid=0") == (
        "https://crm.example.com/export?table=leads&apiKey=***&Auth=***&gid=0"
    )
    assert redact_url("https://user:pw@example.com/a.csv?client_secret=1") == (
        "https://user:***@example.com/a.csv?client_secret=***"
    )
    plain = "https://docs.google.com/spreadsheets/d/abc/export?format=csv&gid=0"
    assert redact_url(plain) == plain


# --------------------------------------------------------------------------- local files


def test_local_path(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(CSV, encoding="utf-8", newline="")
    got = fetch_csv(str(path), required_columns=["Email"])
    assert got.content == CSV.encode() and got.attempts == 1
    assert got.location == str(path)
    assert got.header[1] == "Email"


def test_file_url(tmp_path: Path) -> None:
    path = tmp_path / "my leads.csv"
    path.write_bytes(CSV.encode())
    got = fetch_csv(path.as_uri())
    assert got.content == CSV.encode()


def test_missing_local_path_says_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "leads.csv"
    with pytest.raises(FetchError) as info:
        fetch_csv(str(missing), what="Leads sheet")
    message = str(info.value)
    assert str(missing) in message
    assert "not found" in message and "Check the path" in message
    assert info.value.location == str(missing)


def test_empty_local_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(EmptyCSVError) as info:
        fetch_csv(str(path))
    assert "empty" in str(info.value) and str(path) in str(info.value)


def test_local_cp1252_file(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    content = "Name,City\r\nJosé Fernandes,Panaji\r\nRenée D’Souza,Goa\r\n".encode("cp1252")
    path.write_bytes(content)
    got = fetch_csv(str(path), required_columns=["name", "city"])
    assert got.content == content
    assert "José Fernandes" in decode_csv_bytes(got.content)
    assert "Renée D’Souza" in got.text()


def test_local_bom_file(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    content = "\ufeffName,Email\r\nÅsa,a@b.c\r\n".encode("utf-8")
    path.write_bytes(content)
    got = fetch_csv(str(path), required_columns=["Name"])
    assert got.content.startswith(b"\xef\xbb\xbf")  # raw bytes untouched
    assert got.header == ["Name", "Email"]
    assert got.text() == "Name,Email\r\nÅsa,a@b.c\r\n"


def test_local_truncated_file_not_retried(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv"
    path.write_text('a,b\n1,"unterminated\n', encoding="utf-8")
    with pytest.raises(TruncatedCSVError) as info:
        fetch_csv(str(path))
    assert info.value.attempts == 1


def test_unsupported_scheme() -> None:
    with pytest.raises(FetchError) as info:
        fetch_csv(f"ftp://example.com/leads.csv?token={SECRET}")
    assert "only http(s) URLs and local files" in str(info.value)
    assert SECRET not in str(info.value)


# --------------------------------------------------------------------------- decoding


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"a,b\r\n1,2", "a,b\r\n1,2"),
        (b"\xef\xbb\xbfa,b\r\n1,2", "a,b\r\n1,2"),
        ("Name\r\nJosé".encode("cp1252"), "Name\r\nJosé"),
        ("Name\r\nJosé".encode("utf-8"), "Name\r\nJosé"),
        (b"a,b\x00\r\n1,\x002", "a,b\r\n1,2"),
        ("\ufeffa,b\r\nü".encode("utf-16"), "a,b\r\nü"),
        (b"", ""),
    ],
)
def test_decode_csv_bytes(raw: bytes, text: str) -> None:
    assert decode_csv_bytes(raw) == text
