"""Zoom session metadata (program, webinar or bootcamp, bootcamp day, conductor) from editable CSVs.

Four files under ``data/config/`` (each validated on load by :func:`funnel_assets.lib.config.read_config_csv`;
every problem of a file is reported at once, with its line and column; each file may have a ``notes`` column):

``zoom_programs.csv`` (``token,program``)
    A token found in the session topic names its program: case-insensitive, as a whole token (no letter
    directly before or after it, so ``ACCA2-Day`` is ACCA but ``cfa`` is not found in ``scfarm``); words of a
    multi-word token may be separated by spaces, hyphens or underscores. Lines are tried in file order, the
    first hit wins; no hit means program ``Other``.
``zoom_conductors.csv`` (``conductor,aliases,emails``)
    The approved conductors: canonical name, ``;``-separated other spellings and emails. A name matches
    ignoring case, repeated spaces, dots and a trailing pronoun part such as ``(she/her)``.
``zoom_session_conductors.csv`` (``webinar_id,topic,conductor``)
    Overrides: a line matches a session by webinar ID (digits only), or, when its ``webinar_id`` is blank,
    by ``topic`` (a case-insensitive part of the session topic: bootcamps run as Zoom meetings get a new
    meeting ID every time). ID lines are tried before topic lines.
``zoom_settings.csv`` (``setting,value``)
    See :class:`ZoomSettings`; a missing setting takes its default, an unknown one is an error.

The conductor of a session: the override; else the first panelist who is an approved conductor; else the
host if approved; else the first panelist as written (not approved); else the host as written; else none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

from funnel_assets.lib.config import ConfigError, ConfigProblem, ConfigSpec, not_blank, number, one_of, read_config_csv
from funnel_assets.lib.text import clean_token, email_is_valid, normalize_email, proper_case

__all__ = [
    "BOOTCAMP", "WEBINAR", "DAY_1", "DAY_2", "BOTH", "OTHER_PROGRAM", "CONFIG_FILES",
    "ZoomSettings", "ProgramRule", "Conductor", "SessionConductor", "SessionMetadata", "ZoomConfig",
    "bootcamp_day", "bootcamp_days_label", "conductor_key", "token_pattern", "load_zoom_config",
]

WEBINAR, BOOTCAMP = "webinar", "bootcamp"
DAY_1, DAY_2, BOTH = "Day 1", "Day 2", "Both"
OTHER_PROGRAM = "Other"
PROGRAMS_FILE, CONDUCTORS_FILE = "zoom_programs.csv", "zoom_conductors.csv"
SESSION_CONDUCTORS_FILE, SETTINGS_FILE = "zoom_session_conductors.csv", "zoom_settings.csv"
CONFIG_FILES = (PROGRAMS_FILE, CONDUCTORS_FILE, SESSION_CONDUCTORS_FILE, SETTINGS_FILE)

_LETTER = r"[^\W\d_]"  # any Unicode letter
_SEPARATOR = r"[\s\-_]+"
_DAY_RE = re.compile(rf"(?<!{_LETTER})day[\s\-_]*([12])(?!\d)", re.IGNORECASE)
_PRONOUNS_RE = re.compile(rf"\(\s*{_LETTER}+(?:\s*/\s*{_LETTER}+)+\s*\)\s*$")  # "(she/her)", "(he/him/his)"
_PARENTHESIS_RE = re.compile(r"(.*?)\s*\(([^()]*)\)\s*")  # "iPhone (Neha Kapoor)", "Neha K (Neha Kapoor)"
_WEBINAR_ID_RE = re.compile(r"[\d\s\-]+")
_DOMAIN_RE = re.compile(r"[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)+")


# ============================================================================= settings


@dataclass(frozen=True)
class ZoomSettings:
    """``zoom_settings.csv``; the defaults apply to settings the file leaves out."""

    staff_email_domains: tuple[str, ...] = ()
    """People with these email domains are staff (hosts/panelists), never audience."""
    bootcamp_tokens: tuple[str, ...] = ("bootcamp", "boot camp", "boot-camp")
    """A topic containing one of these tokens is a bootcamp; anything else a webinar."""
    default_day_first: bool | None = None
    """How to read ``08/09/2026`` when nothing in a file tells (Zoom's own exports are month-first):
    None ("ask", the default) keeps such a file waiting until the user names its order."""
    max_bad_time_share: float = 0.05
    max_bad_phone_share: float = 0.5
    settle_seconds: float = 10.0
    """A dropped file must be unchanged this long before it is read."""
    min_valid_phone_share: float = 0.8
    """Below this share of valid phones a file gets a warning."""


_SHARE_SETTINGS = ("max_bad_time_share", "max_bad_phone_share", "min_valid_phone_share")


def _split_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(";") if part.strip()]


def _setting_value(name: str, value: str) -> tuple[object, str | None]:
    """(parsed value, problem or None) of one line of ``zoom_settings.csv``."""
    if name in _SHARE_SETTINGS or name == "settle_seconds":
        issue = number(0, 1)(value) if name in _SHARE_SETTINGS else number(0)(value)
        return (None, issue) if issue else (float(value), None)
    if name == "default_day_first":
        issue = one_of("ask", "yes", "no", ignore_case=True)(value)
        return (None, issue) if issue else ({"yes": True, "no": False}.get(value.lower()), None)
    if name == "bootcamp_tokens":
        tokens = tuple(" ".join(t.lower().split()) for t in _split_list(value))
        if not tokens:
            return None, "is empty; list the words that mark a bootcamp (e.g. bootcamp;boot camp) or delete the line for the default"
        bad = [t for t in tokens if not _token_words(t)]
        return (None, f"{', '.join(map(repr, bad))} has no letters or digits") if bad else (tokens, None)
    # staff_email_domains: "finedgeacademy.in;@partner.com" (blank = none)
    domains = tuple(d.lower().lstrip("@") for d in _split_list(value))
    bad = [d for d in domains if not _DOMAIN_RE.fullmatch(d)]
    if bad:
        return None, f"{', '.join(map(repr, bad))} is not an email domain; write it like finedgeacademy.in, several separated by ;"
    return domains, None


def _load_settings(path: Path) -> ZoomSettings:
    spec = ConfigSpec(required=("setting", "value"), optional=("notes",), validators={"setting": (not_blank,)}, unique=("setting",))
    frame = read_config_csv(path, spec)
    known = [f.name for f in fields(ZoomSettings)]
    values: dict[str, object] = {}
    problems: list[ConfigProblem] = []
    for row in frame.iter_rows(named=True):
        name, line = row["setting"].lower(), row["line"]
        if name not in known:
            problems.append(ConfigProblem(line, "setting", f"unknown setting {row['setting']!r}; known settings: {', '.join(known)}"))
            continue
        parsed, issue = _setting_value(name, row["value"] or "")
        if issue:
            problems.append(ConfigProblem(line, "value", f"{name}: {issue}"))
        else:
            values[name] = parsed
    if problems:
        raise ConfigError(path, problems)
    return ZoomSettings(**values)


# ============================================================================= tokens and names


def _token_words(token: str) -> list[str]:
    return [w for w in re.split(_SEPARATOR, token.strip()) if w]


@lru_cache(maxsize=1024)
def token_pattern(token: str) -> re.Pattern[str]:
    """The regex finding ``token`` in a topic: any case, no letter directly before or after it, words
    separated by any run of spaces, hyphens or underscores (``"us cma"`` finds ``US-CMA``)."""
    body = _SEPARATOR.join(re.escape(w) for w in _token_words(token))
    return re.compile(rf"(?<!{_LETTER}){body}(?!{_LETTER})", re.IGNORECASE)


def _has_token_words(value: str) -> str | None:
    return None if not value or _token_words(value) else f"{value!r} has no letters or digits"


def _topic_text(topic: str | None) -> str:
    """Lower-cased topic without control characters, whitespace runs squashed."""
    return clean_token(topic) or ""


def _strip_pronouns(value: str) -> str:
    return _PRONOUNS_RE.sub("", value).strip()


def conductor_key(name: str | None) -> str:
    """A name as compared with the approved list: lower case, no dots, no trailing ``(she/her)``,
    single spaces. ``" Neha  K. (she/her)"`` -> ``"neha k"``."""
    text = _strip_pronouns(clean_token(name) or "").replace(".", "")
    return " ".join(text.split())


def _digits(value: str | None) -> str:
    return "".join(ch for ch in value if ch.isdigit()) if value else ""


def _as_written(value: str | None) -> str | None:
    """A person as a report shows them, tidied: an email lower-cased, a name proper-cased without pronouns."""
    if not value or not value.strip():
        return None
    if "@" in value:
        return normalize_email(value)
    return proper_case(_strip_pronouns(value))


# ============================================================================= config rows


@dataclass(frozen=True)
class ProgramRule:
    token: str  # lower case, single spaces
    program: str
    line: int | None = None


@dataclass(frozen=True)
class Conductor:
    name: str
    aliases: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()  # lower case
    line: int | None = None


@dataclass(frozen=True)
class SessionConductor:
    """An override: ``webinar_id`` (digits) or else ``topic`` (lower case) -> canonical ``conductor``."""

    webinar_id: str | None
    topic: str | None
    conductor: str
    line: int | None = None


@dataclass(frozen=True)
class SessionMetadata:
    program: str
    kind: str  # "webinar" | "bootcamp"
    bootcamp_day: str | None  # "Day 1" | "Day 2"; None for a webinar
    conductor: str | None
    conductor_source: str  # "session_lookup" | "panelist" | "host" | "none"
    conductor_approved: bool


def bootcamp_day(topic: str | None, session_date: date | None) -> str:
    """``Day 1``/``Day 2`` of a bootcamp session: ``Day 2``, ``day_1``, ``DAY-2`` in the topic; else the
    date's weekday (Saturday = Day 1, Sunday = Day 2); else Day 1. ("Today 1" and "Day 12" are no day.)"""
    hit = _DAY_RE.search(topic or "")
    if hit:
        return DAY_1 if hit.group(1) == "1" else DAY_2
    if session_date is not None and session_date.weekday() == 6:
        return DAY_2
    return DAY_1


def bootcamp_days_label(days: Iterable[str]) -> str:
    """A person's bootcamp attendance: ``Day 1``, ``Day 2`` or ``Both`` from the days they attended."""
    seen = set(days)
    unknown = seen - {DAY_1, DAY_2}
    if unknown or not seen:
        raise ValueError(f"expected a non-empty set of {DAY_1!r}/{DAY_2!r}, got {sorted(seen)!r}")
    return BOTH if len(seen) == 2 else seen.pop()


@dataclass(frozen=True)
class ZoomConfig:
    """The four Zoom configuration files, loaded and validated (see the module docstring)."""

    programs: tuple[ProgramRule, ...]
    conductors: tuple[Conductor, ...]
    session_conductors: tuple[SessionConductor, ...]
    settings: ZoomSettings = field(default_factory=ZoomSettings)
    config_dir: Path | None = None
    _names: dict[str, str] = field(init=False, repr=False, compare=False)
    _emails: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names: dict[str, str] = {}
        emails: dict[str, str] = {}
        for c in self.conductors:
            for spelling in (c.name, *c.aliases):
                names.setdefault(conductor_key(spelling), c.name)
            for email in c.emails:
                emails.setdefault(email, c.name)
        object.__setattr__(self, "_names", names)
        object.__setattr__(self, "_emails", emails)

    # ---------------------------------------------------------------- program and kind

    def program_for(self, topic: str | None) -> str:
        """The program of the first ``zoom_programs.csv`` token found in ``topic``; else ``Other``."""
        text = _topic_text(topic)
        return next((r.program for r in self.programs if token_pattern(r.token).search(text)), OTHER_PROGRAM)

    def event_kind(self, topic: str | None) -> str:
        """``bootcamp`` if a bootcamp token is in ``topic``, else ``webinar``."""
        text = _topic_text(topic)
        return BOOTCAMP if any(token_pattern(t).search(text) for t in self.settings.bootcamp_tokens) else WEBINAR

    # ---------------------------------------------------------------- people

    def canonical_conductor(self, name_or_email: str | None) -> str | None:
        """The approved conductor's canonical name, or None if ``name_or_email`` is not one.

        An email must be listed; a name may be the canonical name or an alias, and a Zoom display name
        with a part in brackets also matches on either part (``iPhone (Neha Kapoor)``)."""
        if not name_or_email or not name_or_email.strip():
            return None
        if "@" in name_or_email:
            return self._emails.get(normalize_email(name_or_email) or "")
        text = _strip_pronouns(clean_token(name_or_email) or "")
        candidates = [text]
        bracketed = _PARENTHESIS_RE.fullmatch(text)
        if bracketed:
            candidates += [bracketed.group(2), bracketed.group(1)]
        return next((self._names[k] for k in map(conductor_key, candidates) if k and k in self._names), None)

    def is_staff(self, email: str | None, name: str | None = None) -> bool:
        """Whether a participant is staff (host/panelist): an email on a staff domain (or a subdomain)
        or an approved conductor's email. The name counts only when there is no email (a guest in a
        meeting report): then an approved conductor's name or alias makes them staff."""
        address = normalize_email(email) if email else None
        if address:
            domain = address.rpartition("@")[2]
            return address in self._emails or any(domain == d or domain.endswith("." + d) for d in self.settings.staff_email_domains)
        return self.canonical_conductor(name) is not None

    def session_conductor(self, *, topic: str | None, webinar_id: str | None) -> str | None:
        """The ``zoom_session_conductors.csv`` override for a session, if any (ID lines first)."""
        digits = _digits(webinar_id)
        if digits:
            hit = next((r.conductor for r in self.session_conductors if r.webinar_id == digits), None)
            if hit:
                return hit
        text = _topic_text(topic)
        return next((r.conductor for r in self.session_conductors if r.topic and r.topic in text), None)

    def session_metadata(self, *, topic: str | None, webinar_id: str | None, session_date: date,
                         panelists: Sequence[str] = (), host: str | None = None) -> SessionMetadata:
        """Program, kind, bootcamp day and conductor of one session (one date of a recurring webinar).

        ``panelists`` and ``host``: display names or emails as the file shows them, panelists in file order."""
        kind = self.event_kind(topic)
        day = bootcamp_day(topic, session_date) if kind == BOOTCAMP else None
        conductor, source, approved = self._conductor(topic, webinar_id, panelists, host)
        return SessionMetadata(self.program_for(topic), kind, day, conductor, source, approved)

    def _conductor(self, topic: str | None, webinar_id: str | None, panelists: Sequence[str], host: str | None) -> tuple[str | None, str, bool]:
        override = self.session_conductor(topic=topic, webinar_id=webinar_id)
        if override:
            return override, "session_lookup", True
        for person in panelists:
            if (name := self.canonical_conductor(person)) is not None:
                return name, "panelist", True
        if (name := self.canonical_conductor(host)) is not None:
            return name, "host", True
        first = next((w for p in panelists if (w := _as_written(p))), None)
        if first:
            return first, "panelist", False
        written = _as_written(host)
        return (written, "host", False) if written else (None, "none", False)


# ============================================================================= loading


def _load_programs(path: Path) -> tuple[ProgramRule, ...]:
    spec = ConfigSpec(required=("token", "program"), optional=("notes",),
                      validators={"token": (not_blank, _has_token_words), "program": (not_blank,)}, unique=("token",))
    frame = read_config_csv(path, spec)
    return tuple(ProgramRule(" ".join(r["token"].lower().split()), r["program"], r["line"]) for r in frame.iter_rows(named=True))


def _load_conductors(path: Path) -> tuple[Conductor, ...]:
    spec = ConfigSpec(required=("conductor", "aliases", "emails"), optional=("notes",), validators={"conductor": (not_blank,)}, unique=("conductor",))
    frame = read_config_csv(path, spec)
    problems: list[ConfigProblem] = []
    owner: dict[str, tuple[str, int]] = {}  # name key or email -> (conductor, line)
    out = []
    for r in frame.iter_rows(named=True):
        line, name = r["line"], " ".join(r["conductor"].split())
        emails = [normalize_email(e) or "" for e in _split_list(r["emails"])]
        bad = [e for e in emails if not email_is_valid(e)]
        if bad:
            problems.append(ConfigProblem(line, "emails", f"{', '.join(map(repr, bad))} is not a valid email; separate several with ;"))
        aliases = [" ".join(a.split()) for a in _split_list(r["aliases"])]
        for column, spellings in (("conductor", [name]), ("aliases", aliases), ("emails", emails)):
            for spelling in spellings:
                key = spelling if column == "emails" else conductor_key(spelling)
                if not key:
                    problems.append(ConfigProblem(line, column, f"{spelling!r} has no letters; remove it"))
                elif key in owner and owner[key][0] != name:
                    problems.append(ConfigProblem(line, column, f"{spelling!r} also belongs to {owner[key][0]} (line {owner[key][1]}); "
                                                                "a name or email may point to one conductor only"))
                else:
                    owner.setdefault(key, (name, line))
        out.append(Conductor(name, tuple(aliases), tuple(emails), line))
    if problems:
        raise ConfigError(path, problems)
    return tuple(out)


def _load_session_conductors(path: Path, approved: ZoomConfig) -> tuple[SessionConductor, ...]:
    frame = read_config_csv(path, ConfigSpec(required=("webinar_id", "topic", "conductor"), optional=("notes",)))
    problems: list[ConfigProblem] = []
    seen: dict[tuple[str, str], int] = {}
    out = []
    for r in frame.iter_rows(named=True):
        line, raw_id, raw_topic, raw_conductor = r["line"], r["webinar_id"], r["topic"], r["conductor"]
        webinar_id, topic = _digits(raw_id), _topic_text(raw_topic)
        if raw_id and raw_topic:
            problems.append(ConfigProblem(line, "webinar_id", "fill in either webinar_id or topic, not both "
                                                              "(topic is for sessions whose ID changes, e.g. Zoom meetings)"))
        elif not raw_id and not raw_topic:
            problems.append(ConfigProblem(line, "webinar_id", "fill in webinar_id (e.g. 847-5984-1045) or, for sessions whose ID changes, a topic"))
        elif raw_id and not (_WEBINAR_ID_RE.fullmatch(raw_id) and 9 <= len(webinar_id) <= 12):
            hint = "; Excel turned it into a number: type it with hyphens, e.g. 847-5984-1045" if re.fullmatch(r"[\d.,]+[eE]\+?\d+", raw_id) else ""
            problems.append(ConfigProblem(line, "webinar_id", f"{raw_id!r} is not a Zoom webinar ID (9 to 12 digits, e.g. 847-5984-1045){hint}"))
        else:
            key = ("webinar_id", webinar_id) if raw_id else ("topic", topic)
            if key in seen:
                problems.append(ConfigProblem(line, key[0], f"{raw_id or raw_topic!r} repeats line {seen[key]}; keep one of them"))
            seen.setdefault(key, line)
        conductor = approved.canonical_conductor(raw_conductor)
        if not raw_conductor:
            problems.append(ConfigProblem(line, "conductor", "is empty; fill in the conductor's name"))
        elif conductor is None:
            problems.append(ConfigProblem(line, "conductor", f"{raw_conductor!r} is not an approved conductor; "
                                                             f"add them to {CONDUCTORS_FILE} or fix the spelling"))
        out.append(SessionConductor(webinar_id or None, None if raw_id else topic or None, conductor or "", line))
    if problems:
        raise ConfigError(path, problems)
    return tuple(out)


def load_zoom_config(config_dir: Path | str) -> ZoomConfig:
    """Load and validate the Zoom configuration files in ``config_dir`` (``data/config``).

    Raises ``ConfigError`` naming the file and listing every problem in it (line and column)."""
    config_dir = Path(config_dir)
    programs = _load_programs(config_dir / PROGRAMS_FILE)
    conductors = _load_conductors(config_dir / CONDUCTORS_FILE)
    settings = _load_settings(config_dir / SETTINGS_FILE)
    approved = ZoomConfig(programs, conductors, (), settings)
    overrides = _load_session_conductors(config_dir / SESSION_CONDUCTORS_FILE, approved)
    return ZoomConfig(programs, conductors, overrides, settings, config_dir)
