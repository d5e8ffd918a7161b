"""The Zoom drop folder: find settled downloads, sort them by session date, never delete anything.

Users download Zoom reports by hand and drop them into one folder (the inbox). This module does
the file handling around the report parser, as plain Python (a sensor calls it on every tick):

* `scan_inbox` lists the candidate files cheaply (one ``os.scandir``; hidden files, Office lock
  files and partial browser downloads are ignored) and `settled` says which of them have finished
  being written (unchanged since the last tick, or old enough).
* `triage` reads only the first 64 KiB of each ready file to learn its session date (the reader is
  injected), then archives it under its content hash, sets an identical re-drop aside, leaves a
  report whose day is not over yet (or whose dates the user must name) in the inbox, unpacks a
  zip, or rejects it with a plain-language reason file. A bad file never blocks the others; a
  file that fails unexpectedly stays put and is retried.
* `supersede` sets aside a report a corrected re-export of the same session replaces.
* Every decision is appended to ``zoom_file_history.csv``, and ``zoom_file_log.csv`` is rewritten
  to hold each file once, in its state now (`append_log` / `read_log` / `read_history`).

Layout (all inside the inbox, so a user finds everything in one place)::

    <inbox>/                                            drop files here (top-level files only)
    <inbox>/<name>.reason.txt                           why <name> waits in the inbox for you
    <inbox>/processed/<YYYY-MM-DD>/<hash16>__<name>      accepted, by session date
    <inbox>/processed/<YYYY-MM-DD>/duplicates/<hash16>__<stamp>__<name>   identical re-drops
    <inbox>/processed/<YYYY-MM-DD>/superseded/<hash16>__<stamp>__<name>   replaced by a corrected re-export
    <inbox>/processed/zips/<hash16>__<name>.zip          zips whose reports were unpacked into the inbox
    <inbox>/rejected/<stamp>__<name>  and  <same>.reason.txt
    <inbox>/zoom_file_log.csv                            one line per file: where it is and why
    <inbox>/zoom_file_history.csv                        one line per decision, never rewritten

``hash16`` is the first 16 hex digits of the SHA-256 of the bytes, ``stamp`` a UTC time like
``20250102T030405Z``. A name that is already taken gets a counter (``<prefix>-2__<name>``): files
are moved without ever replacing an existing one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import logging
import os
import re
import threading
import zipfile
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

try:  # one writer at a time rewrites the per-file log
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

import polars as pl

__all__ = [
    "HEAD_BYTES",
    "HISTORY_COLUMNS",
    "HISTORY_NAME",
    "LOG_COLUMNS",
    "LOG_NAME",
    "InboxFile",
    "Rejection",
    "Triage",
    "ZoomFolders",
    "append_log",
    "archived_files",
    "content_hash",
    "original_name",
    "read_head",
    "read_history",
    "read_log",
    "refile",
    "reject",
    "scan_inbox",
    "settled",
    "supersede",
    "triage",
]

log = logging.getLogger(__name__)

HEAD_BYTES = 64 * 1024
LOG_NAME = "zoom_file_log.csv"
HISTORY_NAME = "zoom_file_history.csv"
LOG_COLUMNS = ("logged_at", "file", "outcome", "session_date", "stored_as", "code", "detail")
HISTORY_COLUMNS = (*LOG_COLUMNS, "moved_from")
OUTCOMES = frozenset({"accepted", "duplicate", "waiting", "rejected", "error", "superseded", "unpacked"})
REASON_SUFFIX = ".reason.txt"
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024  # a zip that unpacks to more is not unpacked (a "zip bomb")

_CHUNK = 1024 * 1024
_IGNORED_NAMES = frozenset({"thumbs.db", "desktop.ini", LOG_NAME, HISTORY_NAME})
_WAITING_NOTE = "This file is waiting in the Zoom folder"
_REPORT_SUFFIXES = (".csv", ".txt", ".tsv")
_PARTIAL_SUFFIXES = (".crdownload", ".part", ".partial", ".download", ".tmp")
_STORED_PREFIX = re.compile(r"^(?:[0-9a-f]{16}|\d{8}T\d{6}Z)(?:-\d+)?__")
_HASH_PREFIX = re.compile(r"^([0-9a-f]{16})(?:-\d+)?__")
_MAX_NAME_BYTES = 255  # most file systems; longer names are shortened (the extension is kept)
_NAME_RESERVE = len(REASON_SUFFIX) + 8  # room for ".reason.txt" and a "-NN" counter


# --------------------------------------------------------------------------- folders and files


@dataclass(frozen=True)
class InboxFile:
    """A top-level file in the inbox, as seen by one scan."""

    path: Path
    name: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class ZoomFolders:
    """Where everything lives; every folder is inside the inbox."""

    inbox: Path
    timezone: str = "UTC"  # the team's time zone: the times in reason files and the log

    def __post_init__(self) -> None:
        object.__setattr__(self, "inbox", Path(self.inbox))

    @property
    def processed(self) -> Path:
        return self.inbox / "processed"

    @property
    def rejected(self) -> Path:
        return self.inbox / "rejected"

    @property
    def log_path(self) -> Path:
        return self.inbox / LOG_NAME

    @property
    def history_path(self) -> Path:
        return self.inbox / HISTORY_NAME

    @property
    def zips(self) -> Path:
        """``processed/zips``: zips whose reports were unpacked into the inbox."""
        return self.processed / "zips"

    def local(self, at: datetime) -> datetime:
        """`at` in the team's time zone (a naive datetime is taken to be UTC)."""
        return _utc(at).astimezone(ZoneInfo(self.timezone))

    def shown(self, at: datetime) -> str:
        """`at` for people: ``2025-11-03 19:05 IST (Asia/Kolkata)``."""
        local = self.local(at)
        return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({self.timezone})"

    def day_folder(self, session_date: date) -> Path:
        """``processed/<YYYY-MM-DD>``: the accepted files of one session date."""
        return self.processed / session_date.isoformat()

    def ensure(self) -> None:
        """Create the inbox (with its parents), ``processed/`` and ``rejected/``."""
        for folder in (self.inbox, self.processed, self.rejected):
            folder.mkdir(parents=True, exist_ok=True)


def _ignored(name: str) -> bool:
    low = name.lower()
    return (name.startswith((".", "~$")) or low in _IGNORED_NAMES or low.endswith(_PARTIAL_SUFFIXES)
            or low.endswith(REASON_SUFFIX))


def scan_inbox(folders: ZoomFolders) -> list[InboxFile]:
    """The candidate files at the top of the inbox, oldest first (sorted by ``(mtime_ns, name)``).

    Only regular files count (not folders or symlinks). Ignored: hidden files (leading "."), Office
    lock files ("~$*", ".~lock*"), partial browser downloads (*.crdownload, *.part, *.partial,
    *.download, *.tmp), Thumbs.db, desktop.ini, our reason notes (*.reason.txt) and the logs.
    A missing inbox is empty.
    """
    files: list[InboxFile] = []
    try:
        entries = os.scandir(folders.inbox)
    except FileNotFoundError:
        return files
    with entries:
        for entry in entries:
            if _ignored(entry.name):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # moved away while we looked
                continue
            files.append(InboxFile(Path(entry.path), entry.name, st.st_size, st.st_mtime_ns))
    files.sort(key=lambda f: (f.mtime_ns, f.name))
    return files


def settled(
    files: Sequence[InboxFile],
    previous: Mapping[str, Sequence[int]],
    *,
    now: float,
    settle_seconds: float,
) -> tuple[list[InboxFile], list[InboxFile], dict[str, tuple[int, int]]]:
    """Split files into ``(ready, still_writing, new_state)``.

    A file is ready when its ``(size, mtime_ns)`` equals what `previous` recorded for the same name
    on the last tick, or when its mtime is at least `settle_seconds` old (`now` is epoch seconds).
    An empty file is ready only by age: a download may not have started writing yet.
    `new_state` maps the name of every file in `files` to ``(size, mtime_ns)``; it is
    JSON-serialisable (the tuples come back as lists, which `previous` accepts).
    """
    ready: list[InboxFile] = []
    writing: list[InboxFile] = []
    state: dict[str, tuple[int, int]] = {}
    for f in files:
        state[f.name] = (f.size, f.mtime_ns)
        before = previous.get(f.name)
        unchanged = f.size > 0 and before is not None and tuple(before) == state[f.name]
        old_enough = now - f.mtime_ns / 1e9 >= settle_seconds
        (ready if unchanged or old_enough else writing).append(f)
    return ready, writing, state


def content_hash(path: Path) -> str:
    """SHA-256 (hex) of the file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _head_and_stat(path: Path, limit: int) -> tuple[bytes, os.stat_result]:
    with open(path, "rb") as fh:
        return fh.read(limit), os.fstat(fh.fileno())


def read_head(path: Path, limit: int = HEAD_BYTES) -> bytes:
    """The first `limit` bytes of the file (all of it if shorter)."""
    return _head_and_stat(path, limit)[0]


def original_name(path: Path | str) -> str:
    """The name the user gave the file: strips the ``<hash16>__`` and ``<stamp>__`` prefixes we add."""
    name = Path(path).name
    while match := _STORED_PREFIX.match(name):
        name = name[match.end():]
    return name


_strip_prefixes = original_name  # `reject` has a parameter of the same name


# --------------------------------------------------------------------------- moving without overwriting


def _stamp(at: datetime) -> str:
    return at.strftime("%Y%m%dT%H%M%SZ")


def _utc(at: datetime) -> datetime:
    """`at` in UTC; a naive datetime is taken to be UTC already."""
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def _fit(prefix: str, name: str) -> str:
    """`name`, shortened (keeping its extension) so ``<prefix>__<name>`` plus a counter and
    ".reason.txt" stays within the file system's name limit."""
    budget = _MAX_NAME_BYTES - _NAME_RESERVE - len(os.fsencode(prefix + "__"))
    if len(os.fsencode(name)) <= budget:
        return name
    suffix = Path(name).suffix if len(Path(name).suffix) <= 16 else ""
    stem = name[: len(name) - len(suffix)]
    while stem and len(os.fsencode(stem + suffix)) > budget:
        stem = stem[:-1]
    return stem + suffix


def _move(src: Path, folder: Path, prefix: str, name: str) -> Path:
    """Move `src` to ``folder/<prefix>__<name>`` (``<prefix>-2__<name>``, ... if taken); never overwrite.

    A hard link followed by removing the old name is an atomic "rename unless the target exists";
    where hard links are not available (FAT drives, some network shares) we check, then rename.
    """
    folder.mkdir(parents=True, exist_ok=True)
    name = _fit(prefix, name)
    for n in itertools.count(1):
        dest = folder / f"{prefix}{'' if n == 1 else f'-{n}'}__{name}"
        if dest.exists() or dest.with_name(dest.name + REASON_SUFFIX).exists():
            continue
        try:
            os.link(src, dest)
        except FileExistsError:
            continue
        except OSError:
            if not src.exists():
                raise
            os.replace(src, dest)
            return dest
        try:
            os.unlink(src)
        except OSError:
            os.unlink(dest)  # undo our own extra link: the bytes stay at `src`, nothing is lost
            raise
        return dest
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- the log


def _relative(folders: ZoomFolders, path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return Path(path).relative_to(folders.inbox).as_posix()
    except ValueError:
        return str(path)


def append_log(
    folders: ZoomFolders,
    *,
    at: datetime,
    file: str,
    outcome: str,
    session_date: date | None,
    stored_as: Path | None,
    code: str | None,
    detail: str,
    moved_from: Path | str | None = None,
) -> None:
    """Record one decision about a file: append it to ``zoom_file_history.csv`` (never rewritten),
    then rewrite ``zoom_file_log.csv``, which holds each file once, in its state now.

    `stored_as` is where the file is now (for a file left in the inbox, its path there; None when
    it is gone), `moved_from` where it was before this decision (its line in the log is replaced).
    Paths are written relative to the inbox, times in the team's time zone with their offset. Each
    history line is a single ``os.write`` on an ``O_APPEND`` descriptor, so the sensor and a run
    can record at the same time without mixing lines; the log is rebuilt from the history under a
    lock. If the log cannot be rewritten (a spreadsheet program holds it open on Windows), the
    history still has the decision and the next one rewrites the log.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; expected one of {sorted(OUTCOMES)}")
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(
        [
            folders.local(at).isoformat(timespec="seconds"),
            file,
            outcome,
            session_date.isoformat() if session_date else "",
            _relative(folders, stored_as),
            code or "",
            " ".join(detail.split()),  # one line per decision
            _relative(folders, Path(moved_from)) if moved_from else "",
        ]
    )
    folders.inbox.mkdir(parents=True, exist_ok=True)
    with _locked(folders):
        _adopt_old_log(folders)
        _append(folders.history_path, buffer.getvalue().encode("utf-8", "replace"), HISTORY_COLUMNS)
        if folders.log_path not in getattr(_batches, "paths", ()):
            _try_rewrite_log(folders)


_batches = threading.local()


@contextmanager
def _one_rewrite(folders: ZoomFolders) -> Iterator[None]:
    """Decisions recorded inside go to the history at once; the log is rewritten once, at the end."""
    paths = _batches.__dict__.setdefault("paths", set())
    if folders.log_path in paths:
        yield
        return
    paths.add(folders.log_path)
    try:
        yield
    finally:
        paths.discard(folders.log_path)
        if folders.history_path.exists():
            with _locked(folders):
                _try_rewrite_log(folders)


def _try_rewrite_log(folders: ZoomFolders) -> None:
    try:
        _rewrite_log(folders)
    except OSError as exc:
        log.warning("could not rewrite the Zoom file log %s (the history has the decision): %s", folders.log_path, exc)


def _header(columns: Sequence[str]) -> bytes:
    # the BOM lets Excel show non-English names correctly
    return ("\ufeff" + ",".join(columns) + "\n").encode("utf-8")


def _append(path: Path, line: bytes, columns: Sequence[str]) -> None:
    flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o666)
        line = _header(columns) + line
    except FileExistsError:
        fd = os.open(path, flags)
    try:
        written = os.write(fd, line)
        while written < len(line):  # a short write is rare on a regular file; finish it
            written += os.write(fd, line[written:])
    finally:
        os.close(fd)


@contextmanager
def _locked(folders: ZoomFolders) -> Iterator[None]:
    """An exclusive lock (``<inbox>/.zoom_file_log.lock``) between the sensor and runs."""
    fd = os.open(folders.inbox / ".zoom_file_log.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _adopt_old_log(folders: ZoomFolders) -> None:
    """A log written before the history existed was one line per decision: it becomes the history
    (with the `moved_from` column, empty on its lines)."""
    if not folders.log_path.exists() or folders.history_path.exists():
        return
    with open(folders.log_path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows((row + [""] * len(HISTORY_COLUMNS))[: len(HISTORY_COLUMNS)] for row in rows)
    tmp = folders.inbox / f".{HISTORY_NAME}.tmp"
    tmp.write_bytes(_header(HISTORY_COLUMNS) + buffer.getvalue().encode("utf-8", "replace"))
    os.replace(tmp, folders.history_path)


def _history_rows(folders: ZoomFolders) -> list[dict[str, str]]:
    try:
        with open(folders.history_path, encoding="utf-8-sig", errors="replace", newline="") as fh:
            return [{c: row.get(c) or "" for c in HISTORY_COLUMNS} for row in csv.DictReader(fh)]
    except FileNotFoundError:
        return []


def _rewrite_log(folders: ZoomFolders) -> None:
    """``zoom_file_log.csv`` from the history: per file, its last decision, following its moves
    (a decision's `moved_from` replaces the line of the file that was there), for the files still
    where that decision put them (a file the user moved away or deleted has no line)."""
    current: dict[str, dict[str, str]] = {}
    for row in _history_rows(folders):
        if row["moved_from"]:
            current.pop(row["moved_from"], None)
        if row["stored_as"]:
            current.pop(row["stored_as"], None)  # a new file where another was: the newer decision
            current[row["stored_as"]] = row
    rows = [r for where, r in current.items() if (folders.inbox / where).is_file()]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows([r[c] for c in LOG_COLUMNS] for r in rows)
    tmp = folders.inbox / f".{LOG_NAME}.tmp"
    tmp.write_bytes(_header(LOG_COLUMNS) + buffer.getvalue().encode("utf-8", "replace"))
    os.replace(tmp, folders.log_path)


def read_log(folders: ZoomFolders) -> pl.DataFrame:
    """``zoom_file_log.csv``: one row per file in the folder (its last decision), String columns
    (`LOG_COLUMNS`); empty, with those columns, if there is none."""
    return _read(folders.log_path, LOG_COLUMNS)


def read_history(folders: ZoomFolders) -> pl.DataFrame:
    """``zoom_file_history.csv``: every decision in order (`HISTORY_COLUMNS`, String)."""
    return _read(folders.history_path, HISTORY_COLUMNS)


def _read(path: Path, columns: Sequence[str]) -> pl.DataFrame:
    if not path.exists() or path.stat().st_size == 0:
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
    frame = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    return frame.with_columns(pl.lit(None, pl.String).alias(c) for c in columns if c not in frame.columns)


# --------------------------------------------------------------------------- decisions


class Rejection(Exception):
    """A file that cannot be used, with a plain-language `reason` (what is wrong, what to do)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _is_rejection(exc: BaseException) -> bool:
    """Duck-typed: any exception with string `code` and `reason` (the parser's ZoomReportError too)."""
    return isinstance(getattr(exc, "code", None), str) and isinstance(getattr(exc, "reason", None), str)


def _reason_text(
    folders: ZoomFolders, *, name: str, stored: Path, reason: str, code: str, size: int, dropped: datetime,
    now: datetime,
) -> str:
    return (
        "This file was not loaded.\n\n"
        f"What happened: {reason}\n\n"
        f"File: {name}\n"
        f"Dropped (last changed): {folders.shown(dropped)}\n"
        f"Size: {size:,} bytes\n"
        f"Set aside: {folders.shown(now)}, kept here as {stored.name}\n"
        f"Problem code: {code}\n\n"
        "What to do next:\n"
        f"- Fix the file, or download it again from Zoom, and drop the new file into {folders.inbox}\n"
        f"- To retry this exact file (for example after changing a setting), move it back into\n"
        f"  {folders.inbox} (move only the file, not this note).\n\n"
        "Nothing was deleted.\n"
    )


def reject(
    folders: ZoomFolders,
    path: Path,
    *,
    code: str,
    reason: str,
    now: datetime,
    original_name: str | None = None,
) -> Path:
    """Move `path` to ``rejected/<stamp>__<name>``, write ``<that>.reason.txt`` beside it, log it.

    The reason file says in plain language what happened, which file it was (name, when it was
    dropped, size) and what to do next. Returns the new path. Used by `triage` and by the asset
    that parses archived files fully (a truncated file is only noticed then).
    """
    now = _utc(now)
    name = original_name or _strip_prefixes(Path(path).name)
    st = os.stat(path)
    _drop_waiting_note(Path(path))
    stored = _move(Path(path), folders.rejected, _stamp(now), name)
    detail = reason
    text = _reason_text(
        folders,
        name=name,
        stored=stored,
        reason=reason,
        code=code,
        size=st.st_size,
        dropped=datetime.fromtimestamp(st.st_mtime_ns / 1e9, timezone.utc),
        now=now,
    )
    try:
        with open(stored.with_name(stored.name + REASON_SUFFIX), "x", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:  # the file is safe in rejected/ and the log still says why
        log.warning("could not write the reason file for %s: %s", stored, exc)
        detail = f"{reason} (The reason file could not be written: {exc}.)"
    append_log(
        folders, at=now, file=name, outcome="rejected", session_date=None, stored_as=stored, code=code, detail=detail,
        moved_from=path,
    )
    return stored


def _waiting_text(folders: ZoomFolders, *, name: str, reason: str, dropped: datetime, now: datetime) -> str:
    return (
        f"{_WAITING_NOTE}: it was not loaded yet.\n\n"
        f"Why: {reason}\n\n"
        f"File: {name}\n"
        f"Dropped (last changed): {folders.shown(dropped)}\n"
        f"Noticed: {folders.shown(now)}\n\n"
        "Nothing was deleted. This note goes away by itself once the file is loaded.\n"
    )


def _note_path(path: Path) -> Path:
    return path.with_name(path.name + REASON_SUFFIX)


def _write_waiting_note(folders: ZoomFolders, f: InboxFile, reason: str, now: datetime) -> None:
    """``<name>.reason.txt`` beside a file that waits in the inbox for the user."""
    text = _waiting_text(folders, name=f.name, reason=reason, now=now,
                         dropped=datetime.fromtimestamp(f.mtime_ns / 1e9, timezone.utc))
    try:
        _note_path(f.path).write_text(text, encoding="utf-8")
    except OSError as exc:  # the log still says why
        log.warning("could not write the note for %s: %s", f.path, exc)


def _drop_waiting_note(path: Path) -> None:
    """Remove our own waiting note about a file that leaves the inbox (only a note we wrote)."""
    note = _note_path(path)
    try:
        if note.read_text(encoding="utf-8", errors="replace").startswith(_WAITING_NOTE):
            note.unlink()
    except OSError:
        pass


def _drop_stale_notes(folders: ZoomFolders) -> None:
    """Our waiting notes whose file is no longer in the inbox (renamed, say, to name its date order)."""
    try:
        with os.scandir(folders.inbox) as entries:
            notes = [Path(e.path) for e in entries if e.name.endswith(REASON_SUFFIX)]
    except FileNotFoundError:
        return
    for note in notes:
        if not note.with_name(note.name[: -len(REASON_SUFFIX)]).exists():
            _drop_waiting_note(note.with_name(note.name[: -len(REASON_SUFFIX)]))


def _too_early_reason(session_date: date, start_date: date | None) -> str:
    start = f"{start_date.isoformat()}, setting FUNNEL_START_DATE" if start_date else "setting FUNNEL_START_DATE"
    return (
        f"This report is for a session on {session_date.isoformat()}, before the pipeline's start date "
        f"({start}). Change FUNNEL_START_DATE if you want older sessions, then move this file back into the inbox."
    )


@dataclass(frozen=True)
class Triage:
    """What one `triage` call did."""

    archived: dict[date, list[Path]]  # newly archived files by session date (not duplicates)
    duplicates: list[Path]  # identical re-drops moved to processed/<date>/duplicates/
    waiting: list[InboxFile]  # session date not available yet: left in the inbox
    rejected: list[Path]  # moved to rejected/
    errors: list[InboxFile] = field(default_factory=list)  # failed unexpectedly: left in place, retried next tick
    unpacked: list[Path] = field(default_factory=list)  # zips archived under processed/zips/ (reports now in the inbox)

    @property
    def waiting_state(self) -> dict[str, tuple[int, int]]:
        """``name -> (size, mtime_ns)`` of the waiting files: pass it back as `already_waiting` next tick."""
        return {f.name: (f.size, f.mtime_ns) for f in self.waiting}


def _hashes_in(folder: Path) -> dict[str, str]:
    """hash16 -> file name of the files archived in `folder` (not in duplicates/)."""
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries if e.is_file(follow_symlinks=False)]
    except FileNotFoundError:
        return {}
    return {m.group(1): n for n in sorted(names) if (m := _HASH_PREFIX.match(n))}


def triage(
    folders: ZoomFolders,
    ready: Sequence[InboxFile],
    *,
    session_date_of: Callable[[bytes, str], date],
    accepts_date: Callable[[date], bool],
    too_early: Callable[[date], bool] | None = None,
    start_date: date | None = None,
    already_waiting: Mapping[str, Sequence[int]] | None = None,
    waiting_codes: Collection[str] = (),
    now: datetime,
) -> Triage:
    """Decide, move and log each ready file, in order (oldest first if they come from `scan_inbox`).

    A zip (not an Excel workbook) is unpacked first: its reports (.csv, .txt, .tsv) are written into
    the inbox, where the next ticks read them like any drop, and the zip is archived under
    ``processed/zips/`` ("unpacked"); a zip that cannot be unpacked is rejected with a reason.

    For each other file: read its first 64 KiB and ask ``session_date_of(head, file_name)`` for the
    session date. An exception with string ``code`` and ``reason`` attributes (`Rejection`, the
    parser's error) rejects the file, unless its code is one of `waiting_codes`: then the file waits
    in the inbox for the user, with the reason in ``<name>.reason.txt`` beside it. If
    ``accepts_date(d)`` is False the file is rejected when the date is before the pipeline's start
    (``too_early(d)``, or ``d < start_date`` when only `start_date` is given; `start_date` also
    makes the message name the date), else it waits in the inbox (the day is not over yet).
    "waiting" is logged only when the file is not already in `already_waiting` with the same
    ``(size, mtime_ns)`` (pass the previous tick's `Triage.waiting_state`). Accepted dates: the
    file is hashed; if ``processed/<d>/`` already holds the same content it goes to
    ``duplicates/`` ("duplicate"), else to ``processed/<d>/<hash16>__<name>`` ("accepted").

    Any other exception for one file is logged as "error" and the file stays where it is (it is
    tried again next tick); the others go on. A file that changed since the scan is skipped quietly.
    """
    folders.ensure()
    now = _utc(now)
    already_waiting = already_waiting or {}
    if too_early is None and start_date is not None:
        too_early = lambda d: d < start_date  # noqa: E731
    _drop_stale_notes(folders)
    known: dict[date, dict[str, str]] = {}  # session date -> hash16 -> archived file name
    archived: dict[date, list[Path]] = {}
    duplicates: list[Path] = []
    waiting: list[InboxFile] = []
    rejected: list[Path] = []
    errors: list[InboxFile] = []
    unpacked: list[Path] = []

    def note(file: str, outcome: str, detail: str, *, on: date | None = None, stored: Path | None = None,
             code: str | None = None, moved_from: Path | None = None) -> None:
        append_log(folders, at=now, file=file, outcome=outcome, session_date=on, stored_as=stored, code=code,
                   detail=detail, moved_from=moved_from)

    def wait(f: InboxFile, name: str, detail: str, *, on: date | None = None, code: str | None = None,
             reason_file: bool = False) -> None:
        waiting.append(f)
        if tuple(already_waiting.get(f.name, ())) != (f.size, f.mtime_ns):
            if reason_file:
                _write_waiting_note(folders, f, detail, now)
            note(name, "waiting", detail, on=on, code=code, stored=f.path, moved_from=f.path)

    with _one_rewrite(folders):
        for f in ready:
            name = original_name(f.name)
            try:
                head, st = _head_and_stat(f.path, HEAD_BYTES)
                if (st.st_size, st.st_mtime_ns) != (f.size, f.mtime_ns):
                    continue  # still changing: it will be looked at again next tick
                if _is_zip(head):
                    try:
                        unpacked.append(_unpack(folders, f, name, now))
                    except Rejection as exc:
                        rejected.append(reject(folders, f.path, code=exc.code, reason=exc.reason, now=now, original_name=name))
                    continue
                try:
                    session_date = session_date_of(head, f.name)
                except Exception as exc:
                    if not _is_rejection(exc):
                        raise
                    code, reason = getattr(exc, "code"), getattr(exc, "reason")
                    if code in waiting_codes:
                        wait(f, name, reason, code=code, reason_file=True)
                        continue
                    rejected.append(reject(folders, f.path, code=code, reason=reason, now=now, original_name=name))
                    continue
                if isinstance(session_date, datetime):
                    session_date = session_date.date()

                if not accepts_date(session_date):
                    if too_early is not None and too_early(session_date):
                        reason = _too_early_reason(session_date, start_date)
                        rejected.append(
                            reject(folders, f.path, code="before_start_date", reason=reason, now=now, original_name=name)
                        )
                        continue
                    wait(f, name, f"This report is for a session on {session_date.isoformat()}, a day that is not over "
                         "yet. It stays in the inbox and is loaded automatically once that day's data is due.",
                         on=session_date)
                    continue

                digest = hashlib.sha256(head).hexdigest() if len(head) == st.st_size else content_hash(f.path)
                hash16 = digest[:16]
                day = folders.day_folder(session_date)
                hashes = known.get(session_date)
                if hashes is None:
                    hashes = known[session_date] = _hashes_in(day)
                _drop_waiting_note(f.path)
                if hash16 in hashes:
                    stored = _move(f.path, day / "duplicates", f"{hash16}__{_stamp(now)}", name)
                    duplicates.append(stored)
                    first = _relative(folders, day / hashes[hash16])
                    note(name, "duplicate", f"An identical copy was already loaded as {first}; this copy was kept "
                         "aside and not counted again.", on=session_date, stored=stored, moved_from=f.path)
                else:
                    stored = _move(f.path, day, hash16, name)
                    hashes[hash16] = stored.name
                    archived.setdefault(session_date, []).append(stored)
                    note(name, "accepted", f"Report for the session on {session_date.isoformat()}; stored under "
                         f"{_relative(folders, day)}.", on=session_date, stored=stored, moved_from=f.path)
            except Exception as exc:  # one bad file never stops the others
                errors.append(f)
                log.warning("could not process %s", f.path, exc_info=True)
                gone = isinstance(exc, FileNotFoundError) and not f.path.exists()
                try:
                    if gone:
                        note(name, "error", "The file was moved or removed from the inbox before it could be handled; "
                             "nothing to do.", code="vanished", moved_from=f.path)
                    else:
                        note(name, "error", f"Could not handle this file ({type(exc).__name__}: {exc}). It was left in the "
                             "inbox and will be tried again automatically; if this keeps happening, tell the "
                             "pipeline's maintainer.", code="unexpected_error", stored=f.path, moved_from=f.path)
                except OSError:
                    log.exception("could not write to the Zoom file log %s", folders.log_path)

    return Triage(archived=archived, duplicates=duplicates, waiting=waiting, rejected=rejected, errors=errors,
                  unpacked=unpacked)


# --------------------------------------------------------------------------- zips


def _is_zip(head: bytes) -> bool:
    """A zip archive that is not an Office document (an .xlsx is a zip too: the parser rejects it)."""
    return head.startswith(b"PK\x03\x04") and b"[Content_Types].xml" not in head[:4096] and b"xl/" not in head[:4096]


def _unzip_reason(name: str, what: str) -> str:
    return (f"{what} Unzip it yourself (on Windows: right-click > Extract All; on a Mac: double-click it) and drop "
            f"the CSV files that come out of it into the Zoom folder, or download the reports from Zoom again "
            f"one by one. The zip '{name}' is kept here.")


def _unpack(folders: ZoomFolders, f: InboxFile, name: str, now: datetime) -> Path:
    """Write the reports of a zip into the inbox (named ``<zip name> - <member name>``, never over an
    existing file) and archive the zip under ``processed/zips/``. Raises `Rejection` (code
    ``zip_unreadable``) for a damaged, encrypted, oversized zip or one without reports."""
    try:
        with zipfile.ZipFile(f.path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            reports = [m for m in members if Path(m.filename).suffix.lower() in _REPORT_SUFFIXES
                       and not Path(m.filename).name.startswith((".", "~$")) and "__MACOSX" not in m.filename]
            if not reports:
                listed = ", ".join(Path(m.filename).name for m in members[:5]) or "nothing"
                raise Rejection("zip_unreadable", _unzip_reason(name, f"This zip holds no CSV report (it holds: {listed})."))
            if any(m.flag_bits & 0x1 for m in reports):
                raise Rejection("zip_unreadable", _unzip_reason(name, "This zip is protected by a password."))
            if sum(m.file_size for m in reports) > MAX_UNZIPPED_BYTES:
                raise Rejection("zip_unreadable", _unzip_reason(
                    name, f"This zip unpacks to more than {MAX_UNZIPPED_BYTES // 2**20} MB, far more than Zoom reports."))
            written: list[Path] = []
            stem = Path(name).stem
            for member in reports:
                data = archive.read(member)
                target_name = _fit("", f"{stem} - {Path(member.filename).name}")
                target = folders.inbox / target_name
                n = 1
                while target.exists() or _note_path(target).exists():
                    n += 1
                    target = folders.inbox / f"{Path(target_name).stem} ({n}){Path(target_name).suffix}"
                with open(target, "xb") as out:
                    out.write(data)
                os.utime(target, ns=(f.mtime_ns, f.mtime_ns))  # dropped when the zip was: ready next tick
                written.append(target)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, RuntimeError) as exc:
        raise Rejection("zip_unreadable", _unzip_reason(name, f"This zip could not be opened ({exc}): it may be damaged "
                                                        "or cut off.")) from exc
    hash16 = content_hash(f.path)[:16]
    stored = _move(f.path, folders.zips, hash16, name)
    files = ", ".join(p.name for p in written)
    append_log(folders, at=now, file=name, outcome="unpacked", session_date=None, stored_as=stored, code=None,
               detail=f"A zip: its {len(written)} report(s) were put into the Zoom folder to be read like any "
                    f"other drop ({files}); the zip is kept under {_relative(folders, folders.zips)}.",
               moved_from=f.path)
    return stored


def refile(folders: ZoomFolders, path: Path, session_date: date, *, now: datetime) -> Path:
    """Move an archived file to ``processed/<session_date>/``: the full parse found another date than the head.

    The file keeps its ``<hash16>__<name>`` name; if that day already holds the same content it goes to the
    day's ``duplicates/`` instead. Logged as "accepted" (or "duplicate") saying where it came from. A file
    already in the right folder is left alone. Returns the new path.
    """
    path, now = Path(path), _utc(now)
    day = folders.day_folder(session_date)
    if path.parent == day:
        return path
    name = original_name(path)
    match = _HASH_PREFIX.match(path.name)
    hash16 = match.group(1) if match else content_hash(path)[:16]
    came_from = _relative(folders, path)
    first = _hashes_in(day).get(hash16)
    if first is None:
        stored, outcome = _move(path, day, hash16, name), "accepted"
        detail = f"Report for the session on {session_date.isoformat()}; moved here from {came_from} after a full read."
    else:
        stored, outcome = _move(path, day / "duplicates", f"{hash16}__{_stamp(now)}", name), "duplicate"
        detail = (
            f"Moved from {came_from} after a full read: an identical copy was already loaded as "
            f"{_relative(folders, day / first)}; this copy was kept aside and not counted again."
        )
    append_log(folders, at=now, file=name, outcome=outcome, session_date=session_date, stored_as=stored, code=None,
               detail=detail, moved_from=path)
    return stored


def supersede(folders: ZoomFolders, path: Path, *, by: Path, session_date: date, now: datetime) -> Path:
    """Move an archived report to ``processed/<session_date>/superseded/``: `by`, a later download of
    the same report of the same session (a corrected re-export), replaces it as a whole. Logged as
    "superseded", naming the file that replaces it. Returns the new path."""
    path, now = Path(path), _utc(now)
    name = original_name(path)
    match = _HASH_PREFIX.match(path.name)
    hash16 = match.group(1) if match else content_hash(path)[:16]
    stored = _move(path, folders.day_folder(session_date) / "superseded", f"{hash16}__{_stamp(now)}", name)
    append_log(folders, at=now, file=name, outcome="superseded", session_date=session_date, stored_as=stored,
               code=None, moved_from=path,
               detail=f"A later download of the same report for this session, {original_name(by)} "
                      f"({_relative(folders, Path(by))}), replaces this one as a whole; this file was kept aside "
                      "and is no longer counted.")
    return stored


def archived_files(folders: ZoomFolders, session_date: date) -> list[Path]:
    """The files archived for one session date (``processed/<d>/*``, not duplicates/), sorted by name."""
    folder = folders.day_folder(session_date)
    try:
        with os.scandir(folder) as entries:
            return sorted(Path(e.path) for e in entries if e.is_file(follow_symlinks=False))
    except FileNotFoundError:
        return []
