"""Amplitude events for the SaaS simulation, in the HTTP V2 API's shape, and the NDJSON export.

``build_events`` is called by ``saas_journeys.simulate_saas_day``: it turns the day's sessions
into browsing events (login, page views, pricing/features pages, clicks, searches, logout),
places each session's special events (forms, carts, purchases, upgrades, given by the journey)
after its browsing, adds server-side events (sales-closed purchases, trial conversions and
expiries), and gives every event a time and a deterministic insert_id. All vectorised; the
per-event randomness is seeded by (seed, day).

``amplitude_events_ndjson(frame)`` renders events one JSON object per line, as Amplitude's
export API does, with ``event_properties`` / ``user_properties`` as nested objects (keys a
row does not use are null there: one struct type covers every event type).
"""

from __future__ import annotations

import io
import threading
from datetime import date, datetime, timezone

import numpy as np
import polars as pl

from funnel_assets.lib.synthetic.rng import fmt as _fmt, hashed_uuids, rng_for

EVENTS = {
    "event_type": pl.String,
    "user_id": pl.String,  # null until the person is identified (email)
    "device_id": pl.String,
    "time": pl.Int64,  # ms epoch
    "session_id": pl.Int64,  # ms epoch of the session start; -1 for server-side events
    "insert_id": pl.String,  # deterministic, uuid-shaped (Amplitude de-duplicates on it)
    "event_properties": pl.String,  # JSON object
    "user_properties": pl.String,  # JSON object
    "utm_source": pl.String,
    "utm_medium": pl.String,
    "utm_campaign": pl.String,
    "platform": pl.String,  # Web, or Server for server-side events
    "os_name": pl.String,  # the browser, as Amplitude's browser SDK reports it
    "device_type": pl.String,  # Desktop / Mobile
    "country": pl.String,
    "revenue": pl.Float64,  # purchases: the amount in dollars
    "productId": pl.String,  # purchases: the SKU
}

EVENT_TYPES = (
    "page_view", "button_click", "search", "pricing_page_view", "features_page_view",
    "add_to_cart", "remove_from_cart", "checkout_start", "purchase",
    "trial_started", "demo_requested", "contact_form_submit", "pricing_form_submit", "content_download", "newsletter_subscribe",
    "upgrade_button_clicked", "contact_sales_clicked", "trial_converted", "trial_expired",
    "login", "logout",
)

MARKETING_PAGES = ("/", "/product", "/integrations", "/customers", "/blog", "/blog/pipeline-hygiene", "/blog/forecasting-101",
                   "/blog/crm-migration-guide", "/resources/whitepaper", "/about", "/security", "/docs/getting-started")
APP_PAGES = ("/app/dashboard", "/app/pipeline", "/app/reports", "/app/settings", "/app/contacts", "/app/integrations")
BUTTONS = ("hero_cta", "nav_pricing", "nav_features", "watch_video", "start_trial_cta", "book_demo_cta", "footer_contact", "copy_code")
SEARCH_QUERIES = ("pricing", "salesforce integration", "api", "sso", "export csv", "forecasting", "gdpr", "free trial", "hubspot")
LOGIN_METHODS = ("password", "google_sso", "magic_link")

PAGE_PRICING_BASE, PAGE_PRICING_PER_SCORE, PAGE_FEATURES = 0.05, 0.15, 0.08
CLICKS_PER_SCORE_POINT = 1 / 30
SEARCH_BASE, SEARCH_PER_SCORE = 0.03, 1 / 500
PROSPECT_LOGIN_SHARE = 0.4  # identified prospects (trial users, customers) who log in on a marketing visit
LOGOUT_SHARE = 0.35
MEAN_GAP_SECONDS = 25.0

_BROWSE_TYPES = ("login", "page_view", "pricing_page_view", "features_page_view", "button_click", "search", "logout")


def _props_table() -> tuple[list[str], dict[str, int]]:
    table: list[str] = []
    offsets: dict[str, int] = {}
    for name, values, key in (("marketing", MARKETING_PAGES, "page_path"), ("app", APP_PAGES, "page_path"),
                              ("button", BUTTONS, "button_id"), ("search", SEARCH_QUERIES, "query"), ("login", LOGIN_METHODS, "method")):
        offsets[name] = len(table)
        table += [f'{{"{key}":"{v}"}}' for v in values]
    offsets["pricing"] = len(table)
    table.append('{"page_path":"/pricing"}')
    offsets["features"] = len(table)
    table.append('{"page_path":"/features"}')
    offsets["empty"] = len(table)
    table.append("{}")
    return table, offsets


_PROPS, _OFF = _props_table()


def _lookup_tables() -> tuple[np.ndarray, np.ndarray]:
    """Per browse kind (``_BROWSE_TYPES`` order) and app/marketing context: first row in ``_PROPS`` and number of choices."""
    first = np.zeros((len(_BROWSE_TYPES), 2), dtype=np.int64)
    count = np.ones((len(_BROWSE_TYPES), 2), dtype=np.int64)
    for kind, (offset, n) in {0: (_OFF["login"], len(LOGIN_METHODS)), 2: (_OFF["pricing"], 1), 3: (_OFF["features"], 1),
                              4: (_OFF["button"], len(BUTTONS)), 5: (_OFF["search"], len(SEARCH_QUERIES)), 6: (_OFF["empty"], 1)}.items():
        first[kind], count[kind] = offset, n
    first[1] = (_OFF["marketing"], _OFF["app"])
    count[1] = (len(MARKETING_PAGES), len(APP_PAGES))
    return first, count


_PROP_FIRST, _PROP_COUNT = _lookup_tables()
_PROP_FIRST_FLAT, _PROP_COUNT_FLAT = _PROP_FIRST.ravel(), _PROP_COUNT.ravel()
_KIND_PATTERN = np.array([0, 1, 4, 5, 6], dtype=np.int8)  # a session's browsing before shuffling: login, pages, clicks, search, logout


class InBackground:
    """``fn(*args)`` on a thread of its own (numpy and polars release the GIL in their loops, so it
    runs on the other core); ``result()`` waits for it and re-raises its error. A plain thread, not
    a pool: nothing to go stale across a fork (Dagster's multiprocess executor)."""

    def __init__(self, fn, *args):
        self._value = self._error = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), name="saas-background", daemon=True)
        self._thread.start()

    def _run(self, fn, args) -> None:
        try:
            self._value = fn(*args)
        except BaseException as error:  # noqa: BLE001 - handed to the caller in result()
            self._error = error

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def _sorted_by_key(key: np.ndarray, bits: int) -> np.ndarray:
    """Positions ordering ``key`` (non-negative, < 2**(63 - bits)), ties by position: one packed int64 sort."""
    n = len(key)
    packed = key << bits
    packed |= np.arange(n, dtype=np.int64)
    packed.sort()
    packed &= (1 << bits) - 1
    return packed


def build_events(*, seed: int, day: date, sessions: pl.DataFrame, session_detail: pl.DataFrame,
                 specials: pl.DataFrame, server: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The day's events (``EVENTS`` schema, in time order) and the times of the referenced special events.

    ``sessions``: the day's sessions (``saas_schema.SESSIONS``), chronological; ``session_detail``
    aligned to it (population code 0 prospect / 1 regular / 2 product, tier index, identified
    before the session, country, os_name, mobile). ``specials``: session_row, seq,
    event_type, event_properties, ref_kind, ref. ``server``: server-side events with ref,
    device_id, user_id, time, country, os_name, seq, event_type, event_properties.
    Returns (events, special_times[ref_kind, ref, time]).
    """
    rng = rng_for(seed, "saas-events", day)
    ns = sessions.height
    pv = sessions["page_views"].to_numpy().astype(np.int64)
    score = sessions["engagement_score"].to_numpy()
    tier = session_detail["tier"].to_numpy()
    pop = session_detail["population"].to_numpy()
    before = session_detail["identified_before"].to_numpy()
    u = rng.random((3, ns))
    login = before & ((pop != 0) | (u[0] < PROSPECT_LOGIN_SHARE))
    logout = login & (u[1] < LOGOUT_SHARE)
    browsing = tier > 0
    clicks = np.where(browsing, rng.poisson(score * CLICKS_PER_SCORE_POINT), 0)
    search = browsing & (u[2] < SEARCH_BASE + score * SEARCH_PER_SCORE)

    # browsing events, session by session: login?, pages, clicks, search?, logout? (kinds of _BROWSE_TYPES)
    per_kind = np.empty((ns, 5), dtype=np.int64)
    per_kind[:, 0], per_kind[:, 1], per_kind[:, 2], per_kind[:, 3], per_kind[:, 4] = login, pv, clicks, search, logout
    kind = np.repeat(np.tile(_KIND_PATTERN, ns), per_kind.ravel())
    counts = per_kind.sum(axis=1)
    total = len(kind)
    # the insert ids depend only on (seed, day, number of events): made on the other core meanwhile
    n = total + specials.height + (server.height if server is not None else 0)
    insert_ids = InBackground(hashed_uuids, seed, "saas-insert", day, np.arange(n, dtype=np.int64))
    row = np.repeat(np.arange(ns, dtype=np.int64), counts)
    landing = np.cumsum(counts) - counts + login  # the first page of each session
    eu = rng.random((3, total))
    page = kind == 1
    threshold = PAGE_PRICING_BASE + PAGE_PRICING_PER_SCORE / 100 * score[row]
    kind[page & (eu[0] < threshold)] = 2
    kind[page & (eu[0] >= threshold) & (eu[0] < threshold + PAGE_FEATURES)] = 3
    kind[landing] = 1
    context = kind.astype(np.int64) * 2 + login[row]  # (kind, app pages when logged in)
    prop = _PROP_FIRST_FLAT[context] + (eu[1] * _PROP_COUNT_FLAT[context]).astype(np.int64)
    # order within a session: login 0, landing 1, the other pages, clicks and searches shuffled (2 + a random
    # 16-bit rank), then the special events (2**17 + seq), the logout last
    slot = 2 + (eu[2] * 65536).astype(np.int64)
    slot[kind == 0] = 0
    slot[landing] = 1
    slot[kind == 6] = (1 << 17) + 1023

    # every event of a session, browsing then special ones, each with its lookup codes
    nb = len(_BROWSE_TYPES)
    nsp = specials.height
    sp_row = specials["session_row"].to_numpy().astype(np.int64)
    sp_idx = np.arange(nsp, dtype=np.int64)
    all_row = np.concatenate([row, sp_row])
    all_slot = np.concatenate([slot, (1 << 17) + specials["seq"].to_numpy().astype(np.int64)])
    all_code = np.concatenate([kind, nb + sp_idx])  # into (browse kinds | specials | server events)
    all_prop = np.concatenate([prop, len(_PROPS) + sp_idx])  # into (_PROPS | specials | server events)
    # the person's user_id on: their specials, a logout, and everything once identified before the session
    all_named = np.concatenate([(kind == 6) | before[row], np.ones(nsp, bool)])
    n_sess_events = total + nsp
    bits = max(n_sess_events - 1, 1).bit_length()
    if max(ns, 1).bit_length() + 18 + bits <= 63:
        order = _sorted_by_key((all_row << 18) | all_slot, bits)
    else:  # beyond ~2**25 sessions a day
        order = np.lexsort((all_slot, all_row))
    srow = all_row[order]
    # times: session start, then exponential gaps
    gaps = np.maximum(1000, (rng.exponential(MEAN_GAP_SECONDS, n_sess_events) * 1000).astype(np.int64))
    per_session = counts + np.bincount(sp_row, minlength=ns)
    session_first = np.cumsum(per_session) - per_session
    gaps[session_first] = 0
    csum = np.cumsum(gaps)
    start_ms = sessions["session_id"].to_numpy()
    times = start_ms[srow] + csum - csum[session_first][srow]
    is_special = order >= total
    sp_index = order[is_special] - total
    special_times = pl.DataFrame({
        "ref_kind": specials["ref_kind"].gather(sp_index), "ref": specials["ref"].gather(sp_index),
        "time": times[is_special]}).filter(pl.col("ref_kind").is_not_null())

    # then the server-side events; everything in time order (ties keep the session and slot order)
    nsrv = server.height if server is not None else 0
    if nsrv:
        srv_idx = np.arange(nsrv, dtype=np.int64)
        order = np.concatenate([order, n_sess_events + srv_idx])
        all_row = np.concatenate([all_row, ns + srv_idx])
        all_code = np.concatenate([all_code, nb + nsp + srv_idx])
        all_prop = np.concatenate([all_prop, len(_PROPS) + nsp + srv_idx])
        all_named = np.concatenate([all_named, np.ones(nsrv, bool)])
        times = np.concatenate([times, server["time"].to_numpy()])
    assert len(times) == n
    offset = times - int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)
    bits = max(n - 1, 1).bit_length()
    if n and offset.min() >= 0 and int(offset.max()).bit_length() + bits <= 63:
        final = _sorted_by_key(offset, bits)
    else:
        final = np.argsort(times, kind="stable")
    times = times[final]
    source = order[final]  # each event's position among (browsing | specials | server events)
    code, prop_code, ev_row = all_code[source], all_prop[source], all_row[source]
    user_row = np.where(all_named[source], ev_row, ns + nsrv)  # ns + nsrv: the null row

    srv = server if nsrv else None
    empty_str = pl.Series([], dtype=pl.String)
    sp_revenue, sp_product = _purchase_fields(specials)
    sv_revenue, sv_product = _purchase_fields(srv) if nsrv else (pl.Series([], dtype=pl.Float64), empty_str)
    by_row = pl.DataFrame({
        "device_id": sessions["device_id"],
        "session_id": start_ms,
        "user_properties": sessions.select(_fmt('{"session_count":{},"engagement_tier":"{}"}', "session_number", "engagement_tier"))[:, 0],
        "utm_source": sessions["utm_source"], "utm_medium": sessions["utm_medium"], "utm_campaign": sessions["campaign_name"],
        "platform": pl.repeat("Web", ns, eager=True),
        "os_name": session_detail["os_name"],
        "device_type": pl.Series(["Desktop", "Mobile"]).gather(session_detail["mobile"].cast(pl.Int64).to_numpy()) if ns else empty_str,
        "country": session_detail["country"],
    })
    if nsrv:
        by_row = pl.concat([by_row, srv.select(
            "device_id", session_id=pl.lit(-1, pl.Int64), user_properties=pl.lit("{}"), utm_source=pl.lit(None, pl.String),
            utm_medium=pl.lit(None, pl.String), utm_campaign=pl.lit(None, pl.String), platform=pl.lit("Server"), os_name="os_name",
            device_type=pl.lit(None, pl.String), country="country",
        ).cast(by_row.schema)], rechunk=True)
    event_types = pl.concat([pl.Series(_BROWSE_TYPES), specials["event_type"], srv["event_type"] if nsrv else empty_str]).rechunk()
    # purchases (a few a day) carry revenue and productId: null everywhere else
    revenue_by_code = np.concatenate([np.full(nb, np.nan), sp_revenue.to_numpy(), sv_revenue.to_numpy()])
    products_by_code = pl.concat([pl.Series([None] * nb, dtype=pl.String), sp_product, sv_product]).rechunk()
    props = pl.concat([pl.Series(_PROPS), specials["event_properties"], srv["event_properties"] if nsrv else empty_str]).rechunk()
    users = pl.concat([sessions["user_id"], srv["user_id"] if nsrv else empty_str, pl.Series([None], dtype=pl.String)]).rechunk()
    row_cols = by_row[ev_row]
    bought = np.flatnonzero(~np.isnan(revenue_by_code)[code])
    frame = pl.DataFrame({
        "event_type": event_types.gather(code),
        "user_id": users.gather(user_row),
        "device_id": row_cols["device_id"],
        "time": times,
        "session_id": row_cols["session_id"],
        "insert_id": insert_ids.result(),
        "event_properties": props.gather(prop_code),
        "user_properties": row_cols["user_properties"],
        "utm_source": row_cols["utm_source"], "utm_medium": row_cols["utm_medium"], "utm_campaign": row_cols["utm_campaign"],
        "platform": row_cols["platform"], "os_name": row_cols["os_name"], "device_type": row_cols["device_type"],
        "country": row_cols["country"],
        "revenue": pl.repeat(None, n, dtype=pl.Float64, eager=True).scatter(bought, revenue_by_code[code[bought]]),
        "productId": pl.repeat(None, n, dtype=pl.String, eager=True).scatter(bought, products_by_code.gather(code[bought])),
    }, schema=EVENTS)
    return frame, special_times


def _purchase_fields(frame: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Amplitude's top-level revenue / productId for purchase rows of a (small) special-events frame."""
    if frame.height == 0:
        return pl.Series([], dtype=pl.Float64), pl.Series([], dtype=pl.String)
    out = frame.select(
        revenue=pl.when(pl.col("event_type") == "purchase").then(pl.col("event_properties").str.json_path_match("$.amount").cast(pl.Float64)),
        productId=pl.when(pl.col("event_type") == "purchase").then(pl.col("event_properties").str.json_path_match("$.product_sku")),
    )
    return out["revenue"], out["productId"]


def _decode_json_column(values: pl.Series, name: str) -> pl.Series:
    """JSON object strings -> a struct column, decoding each distinct string once."""
    uniq = values.unique(maintain_order=True)
    if uniq.null_count():
        uniq = uniq.drop_nulls()
    decoded = pl.read_ndjson(io.BytesIO("\n".join(uniq.to_list()).encode("utf-8")), infer_schema_length=None) if len(uniq) else pl.DataFrame()
    if decoded.width == 0:  # every object is empty
        return pl.Series(name, [{}] * len(values))
    codes = values.replace_strict(uniq, pl.Series(np.arange(len(uniq), dtype=np.int64)), default=None)
    return decoded.to_struct(name).gather(codes)


def amplitude_events_ndjson(frame: pl.DataFrame) -> bytes:
    """One JSON object per line, properties as nested objects (as Amplitude's export API gives them)."""
    if frame.height == 0:
        return b""
    out = frame.with_columns(
        _decode_json_column(frame["event_properties"], "event_properties"),
        _decode_json_column(frame["user_properties"], "user_properties"),
    )
    buffer = io.BytesIO()
    out.write_ndjson(buffer)
    return buffer.getvalue()
