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
from datetime import date

import numpy as np
import polars as pl

from funnel_assets.lib.synthetic.rng import fmt as _fmt, hash64, rng_for, uuid_strings

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


def build_events(*, seed: int, day: date, sessions: pl.DataFrame, session_detail: pl.DataFrame,
                 specials: pl.DataFrame, server: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The day's events (``EVENTS`` schema, in time order) and the times of the referenced special events.

    ``sessions``: the day's sessions (``saas_schema.SESSIONS``), chronological; ``session_detail``
    aligned to it (population code 0 prospect / 1 regular / 2 product, tier index, identified
    before/after the session, country, os_name, mobile). ``specials``: session_row, seq,
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
    u = rng.random((ns, 6))
    login = before & ((pop != 0) | (u[:, 0] < PROSPECT_LOGIN_SHARE))
    logout = login & (u[:, 1] < LOGOUT_SHARE)
    browsing = tier > 0
    clicks = np.where(browsing, rng.poisson(score * CLICKS_PER_SCORE_POINT), 0)
    search = browsing & (u[:, 2] < SEARCH_BASE + score * SEARCH_PER_SCORE)

    # browsing events: login?, landing page, the rest of the pages, clicks and searches (shuffled), logout?
    counts = pv + clicks + search + login + logout
    total = int(counts.sum())
    row = np.repeat(np.arange(ns, dtype=np.int64), counts)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    within = np.arange(total) - np.repeat(first, counts)
    # position within the session's block: [login][pv pages][clicks][search][logout]
    lg, p_, c_, s_ = (np.repeat(a, counts) for a in (login.astype(np.int64), pv, clicks, search.astype(np.int64)))
    is_login = within < lg
    w = within - lg
    is_page = ~is_login & (w < p_)
    is_click = ~is_login & ~is_page & (w < p_ + c_)
    is_search = ~is_login & ~is_page & ~is_click & (w < p_ + c_ + s_)
    is_logout = ~(is_login | is_page | is_click | is_search)
    eu = rng.random((total, 3))
    ev_score = score[row]
    landing = is_page & (w == 0)
    app = np.repeat(login, counts)
    kind = np.empty(total, dtype=np.int8)
    kind[is_login] = 0
    pricing = eu[:, 0] < PAGE_PRICING_BASE + PAGE_PRICING_PER_SCORE * ev_score / 100
    features = ~pricing & (eu[:, 0] < PAGE_PRICING_BASE + PAGE_PRICING_PER_SCORE * ev_score / 100 + PAGE_FEATURES)
    kind[is_page] = 1
    kind[is_page & ~landing & pricing] = 2
    kind[is_page & ~landing & features] = 3
    kind[is_click] = 4
    kind[is_search] = 5
    kind[is_logout] = 6
    prop = np.full(total, _OFF["empty"], dtype=np.int64)
    pick = eu[:, 1]
    page = kind == 1
    prop[page & app] = _OFF["app"] + (pick[page & app] * len(APP_PAGES)).astype(np.int64)
    prop[page & ~app] = _OFF["marketing"] + (pick[page & ~app] * len(MARKETING_PAGES)).astype(np.int64)
    prop[kind == 2] = _OFF["pricing"]
    prop[kind == 3] = _OFF["features"]
    prop[kind == 4] = _OFF["button"] + (pick[kind == 4] * len(BUTTONS)).astype(np.int64)
    prop[kind == 5] = _OFF["search"] + (pick[kind == 5] * len(SEARCH_QUERIES)).astype(np.int64)
    prop[kind == 0] = _OFF["login"] + (pick[kind == 0] * len(LOGIN_METHODS)).astype(np.int64)
    slot = np.where(is_login, 0.0, np.where(landing, 1.0, np.where(is_logout, 1000.0, 2.0 + eu[:, 2])))

    # specials go after the browsing (slot 100 + seq), before a logout
    nsp = specials.height
    sp_row = specials["session_row"].to_numpy().astype(np.int64)
    sp_slot = 100.0 + specials["seq"].to_numpy()
    all_row = np.concatenate([row, sp_row])
    all_slot = np.concatenate([slot, sp_slot])
    # one int64 key (session row, slot to 1/1000) sorts faster than a lexsort
    order = np.argsort(all_row * (1 << 21) + (all_slot * 1000).astype(np.int64), kind="stable")
    n_sess_events = len(order)
    srow = all_row[order]
    sslot = all_slot[order]
    # times: session start, then exponential gaps
    gaps = np.maximum(1000, (rng.exponential(MEAN_GAP_SECONDS, n_sess_events) * 1000).astype(np.int64))
    starts = np.r_[True, srow[1:] != srow[:-1]] if n_sess_events else np.zeros(0, bool)
    gaps[starts] = 0
    csum = np.cumsum(gaps)
    base = np.maximum.accumulate(np.where(starts, csum, 0))
    start_ms = sessions["session_id"].to_numpy()
    times = start_ms[srow] + csum - base
    is_special = order >= total
    sp_index = np.where(is_special, order - total, 0)
    special_times = pl.DataFrame({
        "ref_kind": specials["ref_kind"].gather(sp_index[is_special]), "ref": specials["ref"].gather(sp_index[is_special]),
        "time": times[is_special]}).filter(pl.col("ref_kind").is_not_null())

    # one code per event into a lookup of (browse kinds | specials | server events)
    nsrv = server.height if server is not None else 0
    code = np.where(is_special, len(_BROWSE_TYPES) + sp_index, kind[np.where(is_special, 0, order)].astype(np.int64))
    prop_code = np.where(is_special, len(_PROPS) + sp_index, prop[np.where(is_special, 0, order)])
    user_row = np.where(is_special | (sslot >= 1000) | before[srow], srow, -1)
    if nsrv:
        srv_idx = np.arange(nsrv, dtype=np.int64)
        code = np.concatenate([code, len(_BROWSE_TYPES) + nsp + srv_idx])
        prop_code = np.concatenate([prop_code, len(_PROPS) + nsp + srv_idx])
        user_row = np.concatenate([user_row, ns + srv_idx])
        times = np.concatenate([times, server["time"].to_numpy()])
        srow = np.concatenate([srow, ns + srv_idx])
        sslot = np.concatenate([sslot, server["seq"].to_numpy().astype(np.float64)])
    final = np.argsort(times, kind="stable")  # ties keep (session row, slot) order
    code, prop_code, user_row, times, srow = code[final], prop_code[final], user_row[final], times[final], srow[final]
    n = len(final)
    in_session = srow < ns
    srow_s = np.where(in_session, srow, ns)  # ns: the null row of session-level lookups
    srv_row = np.where(in_session, nsrv, srow - ns)  # nsrv: the null row of server lookups

    def lookup(parts: list[pl.Series], dtype=pl.String) -> pl.Series:
        return pl.concat([p.cast(dtype) for p in parts]).rechunk()

    none = pl.Series([None], dtype=pl.String)
    empty_str = pl.Series([], dtype=pl.String)
    srv = server if nsrv else None
    sp_revenue, sp_product = _purchase_fields(specials)
    sv_revenue, sv_product = _purchase_fields(srv) if nsrv else (pl.Series([], dtype=pl.Float64), empty_str)
    user_props = sessions.select(_fmt('{"session_count":{},"engagement_tier":"{}"}', "session_number", "engagement_tier"))[:, 0]
    mobile = session_detail["mobile"].cast(pl.Int64).to_numpy()
    device_type_code = np.where(in_session, mobile[np.minimum(srow_s, max(ns - 1, 0))] if ns else 0, 2)
    browse_nulls = pl.Series([None] * len(_BROWSE_TYPES), dtype=pl.Float64)
    frame = pl.DataFrame({
        "event_type": lookup([pl.Series(_BROWSE_TYPES), specials["event_type"], srv["event_type"] if nsrv else empty_str]).gather(code),
        "user_id": lookup([sessions["user_id"], srv["user_id"] if nsrv else empty_str, none]).gather(np.where(user_row >= 0, user_row, ns + nsrv)),
        "device_id": lookup([sessions["device_id"], srv["device_id"] if nsrv else empty_str]).gather(np.where(in_session, srow, srow)),
        "time": times,
        "session_id": np.where(in_session, start_ms[np.minimum(srow_s, max(ns - 1, 0))] if ns else -1, -1),
        "insert_id": uuid_strings(hash64(seed, "saas-insert-hi", day, np.arange(n, dtype=np.int64)),
                                  hash64(seed, "saas-insert-lo", day, np.arange(n, dtype=np.int64))),
        "event_properties": lookup([pl.Series(_PROPS), specials["event_properties"], srv["event_properties"] if nsrv else empty_str]).gather(prop_code),
        "user_properties": lookup([user_props, pl.Series(["{}"])]).gather(srow_s),
        "utm_source": lookup([sessions["utm_source"], none]).gather(srow_s),
        "utm_medium": lookup([sessions["utm_medium"], none]).gather(srow_s),
        "utm_campaign": lookup([sessions["campaign_name"], none]).gather(srow_s),
        "platform": pl.Series(["Web", "Server"]).gather((~in_session).astype(np.int64)),
        "os_name": lookup([session_detail["os_name"], srv["os_name"] if nsrv else empty_str, none]).gather(np.where(in_session, srow, ns + nsrv)),
        "device_type": pl.Series(["Desktop", "Mobile", None], dtype=pl.String).gather(device_type_code),
        "country": lookup([session_detail["country"], srv["country"] if nsrv else empty_str]).gather(srow),
        "revenue": lookup([browse_nulls, sp_revenue, sv_revenue], pl.Float64).gather(code),
        "productId": lookup([pl.Series([None] * len(_BROWSE_TYPES), dtype=pl.String), sp_product, sv_product]).gather(code),
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
