"""A straightforward per-person, per-session, per-event Python implementation of the SaaS day.

The benchmark's yardstick (benchmarks/synthetic_saas.py): the same configuration, the same
rules and the same constants as ``saas_journeys`` (cohort journeys planned at arrival, the
established visitors, trial/form/direct outcomes, browsing events, ad rows), written the way
seed 001 sketches it: a ``UserState`` per person, ``random.Random`` draws, ``json.dumps`` per
event, ``uuid`` per insert id, lists of dicts turned into frames at the end. It produces a
statistically equivalent world, not the same rows (its random streams differ).

``cache`` (a dict the caller keeps) holds cohort plans between days, like the vectorised
version's LRU cache, so cold (empty cache) and warm (previous day done) can both be measured.
"""

from __future__ import annotations

import json
import math
import random
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import polars as pl

from funnel_assets.lib.synthetic import saas_amplitude as amp
from funnel_assets.lib.synthetic import saas_journeys as sj
from funnel_assets.lib.synthetic.saas_config import SaasConfig
from funnel_assets.lib.synthetic.saas_schema import SESSIONS


def _pick(r: random.Random, items: list, cum: list[float]):
    x = r.random()
    for item, c in zip(items, cum):
        if x < c:
            return item
    return items[-1]


def _cum(weights) -> list[float]:
    total = float(sum(weights))
    out, acc = [], 0.0
    for w in weights:
        acc += w / total
        out.append(acc)
    out[-1] = 1.0
    return out


@dataclass
class UserState:
    """Track a person across sessions (seed 001, section 1)."""

    person_id: str
    device_id: str
    email: str
    country: str
    browser: str
    mobile: bool
    user_id: str | None = None
    session_count: int = 0
    had_trial: bool = False
    sessions: list[dict] = field(default_factory=list)
    forms: list[dict] = field(default_factory=list)


class _Tables:
    def __init__(self, config: SaasConfig):
        m = sj._model(config)  # the same derived numbers (tiers sorted, window, regular count)
        self.m = m
        self.tiers = list(range(len(m.tier_names)))
        self.tier_cum = list(m.tier_cum)
        self.regular_tier_cum = list(m.regular_tier_cum)
        self.sources = list(range(len(m.source_names)))
        self.source_cum = list(m.source_cum)
        self.campaigns = {}
        for (p, returning), (idx, cum) in m.campaign_choice.items():
            self.campaigns[(p, returning)] = ([int(i) for i in idx], list(cum))
        self.forms = list(range(len(m.form_names)))
        self.form_cum = list(m.form_cum)
        self.nontrial = [int(i) for i in m.nontrial_forms]
        self.nontrial_cum = list(m.nontrial_cum)
        self.paths = list(range(len(m.path_names)))
        self.path_cum = list(m.path_cum)
        self.skus = list(range(len(m.skus)))
        self.path_tier_cum = [list(row) for row in m.path_tier_cum]
        self.hour_cum = list(m.hour_cum)
        names = sj._name_tables()
        self.first = names["first_lower"].to_list()
        self.last = names["last_lower"].to_list()
        self.domains = names["domain"].to_list()


def _tod(r: random.Random, t: _Tables) -> int:
    return _pick(r, list(range(24)), t.hour_cum) * 3600 + int(r.random() * 3600)


def _page_views(r: random.Random, t: _Tables, tier: int, score: float) -> int:
    if tier == 0:
        return 1
    pv = round(1 + score / 100.0 * (t.m.max_pv - 1) + (r.random() - 0.5) * 3)
    return max(2, min(t.m.max_pv, pv))


def _campaign(r: random.Random, t: _Tables, source: int, returning: bool) -> int | None:
    platform = int(t.m.source_platform[source])
    if platform < 0:
        return None
    choice = t.campaigns.get((platform, returning))
    return _pick(r, *choice) if choice else None


def _plan_cohort(t: _Tables, seed: int, cohort: date, scale: float) -> list[UserState]:
    m = t.m
    r = random.Random(f"{seed}/cohort/{cohort.isoformat()}")
    mean = m.new_per_day * scale
    n = max(0, round(r.gauss(mean, math.sqrt(mean)))) if mean > 0 else 0
    people = []
    for i in range(n):
        first, last = r.choice(t.first), r.choice(t.last)
        user = UserState(
            person_id=f"p{cohort:%Y%m%d}-{i:06d}", device_id=str(uuid.UUID(int=r.getrandbits(128))),
            email=f"{first}.{last}{cohort.toordinal() - 730000}{i:06d}@{r.choice(t.domains)}",
            country=_pick(r, m.country_names, list(m.country_cum)), browser=_pick(r, m.browser_names, list(m.browser_cum)),
            mobile=r.random() < sj.MOBILE_SHARE,
        )
        day_off, prev = 0, None
        while True:
            user.session_count += 1
            k = user.session_count
            tier = _pick(r, t.tiers, t.tier_cum) if prev is None or r.random() >= sj.ENGAGEMENT_PERSISTENCE else prev
            score = round(m.tier_lo[tier] + r.random() * (m.tier_hi[tier] - m.tier_lo[tier]), 1)
            source = _pick(r, t.sources, t.source_cum)
            session = {"k": k, "day": day_off, "tod": _tod(r, t), "tier": tier, "score": score,
                       "pv": _page_views(r, t, tier, score), "source": source, "campaign": _campaign(r, t, source, k > 1),
                       "identified_before": user.user_id is not None, "form": None, "direct": False, "product": False}
            if m.form_p[tier] > 0:
                p = m.secondary_p if user.user_id else m.form_p[tier]
                if r.random() < p:
                    form = _pick(r, t.forms, t.form_cum)
                    if form == m.trial_form and user.had_trial:
                        form = _pick(r, t.nontrial, t.nontrial_cum)
                    session["form"] = form
                    user.forms.append(_plan_form(r, t, user, form, day_off, session))
                    user.user_id = user.email
                    user.had_trial |= form == m.trial_form
            if session["form"] is None and not session["identified_before"] and m.high[tier] and r.random() < m.direct_p:
                session["direct"] = True
                sku = _pick(r, t.skus, t.path_tier_cum[m.self_service])
                annual = r.random() < m.annual_share
                session["purchase"] = (sku, annual)
            user.sessions.append(session)
            if r.random() >= m.return_p[tier]:
                break
            gap = 1
            while r.random() >= sj.RETURN_GAP_P:
                gap += 1
            if day_off + gap > sj.JOURNEY_HORIZON_DAYS:
                break
            day_off += gap
            prev = tier
        people.append(user)
    return people


def _plan_form(r: random.Random, t: _Tables, user: UserState, form: int, day_off: int, session: dict) -> dict:
    m = t.m
    plan = {"form": form, "day": day_off, "secondary": user.user_id is not None, "path": None, "converts": False,
            "converts_on": None, "outcome_on": None, "sku": None, "annual": False}
    if form == m.trial_form:
        path = _pick(r, t.paths, t.path_cum)
        plan["path"] = path
        plan["converts"] = r.random() < m.path_conv[path]
        lo, hi = sj.TRIAL_CONVERSION_WINDOW
        conv_day = min(hi, max(lo, round(r.gauss(m.path_avg[path], m.path_sd[path]))))
        if plan["converts"]:
            plan["converts_on"] = day_off + conv_day
        plan["outcome_on"] = plan["converts_on"] if plan["converts"] else day_off + m.trial_days
        mix = path
    else:
        plan["converts"] = r.random() < m.form_rate[form]
        if plan["converts"]:
            plan["converts_on"] = plan["outcome_on"] = day_off + int(m.form_delay[form]) + 1 + int(r.random() * sj.FORM_CONVERSION_EXTRA_DAYS)
        mix = m.sales_assisted if m.form_sales_touched[form] else m.self_service
    if plan["converts"]:
        plan["sku"] = _pick(r, t.skus, t.path_tier_cum[mix])
        plan["annual"] = r.random() < m.annual_share
        if plan["path"] == m.self_service:  # the upgrade happens in a product session
            plan["product_tod"] = _tod(r, t)
    plan["tod"] = _tod(r, t)
    return plan


def _event(events: list, r: random.Random, user_id, device_id, time_ms, session_id, event_type, props, session, source_names, campaign_names, m, extra):
    events.append({
        "event_type": event_type, "user_id": user_id, "device_id": device_id, "time": time_ms, "session_id": session_id,
        "insert_id": str(uuid.UUID(int=r.getrandbits(128))), "event_properties": json.dumps(props, separators=(",", ":")),
        "user_properties": json.dumps({"session_count": session.get("number", 0), "engagement_tier": m.tier_names[session["tier"]]}, separators=(",", ":")) if session else "{}",
        "utm_source": source_names[session["source"]] if session and session["source"] is not None else None,
        "utm_medium": extra["medium"], "utm_campaign": campaign_names[session["campaign"]] if session and session["campaign"] is not None else None,
        "platform": "Web" if session else "Server", "os_name": extra["browser"], "device_type": extra["device_type"], "country": extra["country"],
        "revenue": props.get("amount") if event_type == "purchase" else None, "productId": props.get("product_sku") if event_type == "purchase" else None,
    })


def _session_events(r: random.Random, t: _Tables, day_ms: int, user: UserState | None, reg: dict | None, s: dict, events: list) -> None:
    """Browsing events, then the session's form / purchase / upgrade, per event."""
    m = t.m
    device = user.device_id if user else reg["device_id"]
    email = user.email if user else reg["email"]
    identified_before = s["identified_before"]
    start = day_ms + s["tod"] * 1000
    extra = {"medium": m.source_mediums[s["source"]] if s["source"] is not None else None,
             "browser": user.browser if user else reg["browser"], "country": user.country if user else reg["country"],
             "device_type": "Mobile" if (user.mobile if user else reg["mobile"]) else "Desktop"}
    login = identified_before and (s.get("population") != "prospect" or r.random() < amp.PROSPECT_LOGIN_SHARE)
    browse = []
    if s["tier"] > 0:
        for _ in range(s["pv"] - 1):
            x = r.random()
            p = amp.PAGE_PRICING_BASE + amp.PAGE_PRICING_PER_SCORE * s["score"] / 100
            browse.append(("pricing_page_view", {"page_path": "/pricing"}) if x < p else
                          ("features_page_view", {"page_path": "/features"}) if x < p + amp.PAGE_FEATURES else
                          ("page_view", {"page_path": r.choice(amp.APP_PAGES if login else amp.MARKETING_PAGES)}))
        lam, clicks, acc = s["score"] * amp.CLICKS_PER_SCORE_POINT, 0, math.exp(-s["score"] * amp.CLICKS_PER_SCORE_POINT)
        x, cdf = r.random(), acc
        while x > cdf and clicks < 100:
            clicks += 1
            acc *= lam / clicks
            cdf += acc
        browse += [("button_click", {"button_id": r.choice(amp.BUTTONS)}) for _ in range(clicks)]
        if r.random() < amp.SEARCH_BASE + s["score"] * amp.SEARCH_PER_SCORE:
            browse.append(("search", {"query": r.choice(amp.SEARCH_QUERIES)}))
        r.shuffle(browse)
    sequence = ([("login", {"method": r.choice(amp.LOGIN_METHODS)})] if login else [])
    sequence.append(("page_view", {"page_path": r.choice(amp.APP_PAGES if login else amp.MARKETING_PAGES)}))
    sequence += browse
    specials = []
    if s["form"] is not None:
        plan = s["form_plan"]
        props = {"form_type": m.form_names[s["form"]], "lead_source": m.form_lead_source[s["form"]]}
        if plan["path"] is not None:
            props["trial_path"] = m.path_names[plan["path"]]
        props["is_secondary"] = plan["secondary"]
        specials.append((m.form_events[s["form"]], props))
        if plan["path"] == m.sales_assisted:
            specials.append(("contact_sales_clicked", {"trial_path": "sales_assisted", "location": "trial_signup"}))
    if s.get("purchase"):
        sku, annual = s["purchase"]
        cart = {"product_sku": m.skus[sku], "product_name": m.product_names[sku], "amount": (m.price_annual[sku] if annual else m.price_monthly[sku]) / 100}
        buy = {**cart, "billing_interval": "year" if annual else "month", "currency": "USD"}
        if s.get("product"):
            specials += [("upgrade_button_clicked", {"trial_path": "self_service", "product_sku": m.skus[sku]}), ("checkout_start", cart),
                         ("purchase", buy), ("trial_converted", {"trial_path": "self_service", "product_sku": m.skus[sku], "conversion_day": s["conversion_day"]})]
        else:
            specials += [("add_to_cart", cart), ("checkout_start", cart), ("purchase", buy)]
    if login and r.random() < amp.LOGOUT_SHARE:
        specials.append(("logout", {}))
    time_ms = start
    n_browse = len(sequence)
    for j, (event_type, props) in enumerate(sequence + specials):
        if j:
            time_ms += max(1000, int(r.expovariate(1 / amp.MEAN_GAP_SECONDS) * 1000))
        uid = email if (identified_before or (j >= n_browse and (s["form"] is not None or identified_before))) else None
        _event(events, r, uid, device, time_ms, start, event_type, props, s, m.source_names, m.campaign_names, m, extra)


def simulate_day_reference(config: SaasConfig, *, seed: int, day: date, scale: float = 1.0,
                           world_start: date = date(2025, 1, 1), cache: dict | None = None) -> dict[str, pl.DataFrame]:
    """The day's sessions and events (and ad rows), one person, session and event at a time."""
    t = _Tables(config)
    m = t.m
    cache = {} if cache is None else cache
    day_ms = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)
    r = random.Random(f"{seed}/day/{day.isoformat()}")
    sessions, events = [], []
    cohort = max(world_start, day - timedelta(days=m.window))
    while cohort <= day:
        key = (seed, cohort, scale)
        if key not in cache:
            cache[key] = _plan_cohort(t, seed, cohort, scale)
        offset = (day - cohort).days
        for user in cache[key]:
            number = 0
            for s in user.sessions:
                number += 1
                if s["day"] == offset:
                    s = {**s, "number": number, "population": "prospect"}
                    if s["form"] is not None:
                        s["form_plan"] = next(f for f in user.forms if f["day"] == offset)
                    sessions.append((user, None, s))
            for f in user.forms:
                if f["outcome_on"] == offset:
                    if f["converts"] and f["path"] == m.self_service:
                        s = {"k": 0, "number": number + 1, "day": offset, "tod": f["product_tod"], "tier": m.top_tier, "score": 90.0, "pv": 3,
                             "source": None, "campaign": None, "identified_before": True, "form": None, "purchase": (f["sku"], f["annual"]),
                             "product": True, "conversion_day": offset - f["day"], "population": "product"}
                        sessions.append((user, None, s))
                    else:
                        kind = "trial_converted" if f["converts"] and f["path"] is not None else "trial_expired" if f["path"] is not None else "purchase"
                        _event(events, r, user.email, user.device_id, day_ms + f["tod"] * 1000, -1, kind, {"trial_path": m.path_names[f["path"]]} if f["path"] is not None else {},
                               None, m.source_names, m.campaign_names, m, {"medium": None, "browser": None, "device_type": None, "country": user.country})
        cohort += timedelta(days=1)
    # established visitors: who comes today?
    regulars = cache.get(("regulars", seed, scale))
    if regulars is None:
        rr = random.Random(f"{seed}/regulars")
        regulars = []
        for i in range(m.regular_count(scale)):
            period = rr.choice(list(sj.REGULAR_PERIODS))
            regulars.append({"person_id": f"r{i:06d}", "period": int(period), "phase": int(rr.random() * period), "initial": 2 + int(math.log(1 - rr.random()) / math.log(0.95)),
                             "identified": rr.random() < sj.REGULAR_IDENTIFIED_SHARE, "device_id": str(uuid.UUID(int=rr.getrandbits(128))),
                             "email": f"{rr.choice(t.first)}.{rr.choice(t.last)}.r{i:06d}@{rr.choice(t.domains)}",
                             "country": _pick(rr, m.country_names, list(m.country_cum)), "browser": _pick(rr, m.browser_names, list(m.browser_cum)),
                             "mobile": rr.random() < sj.MOBILE_SHARE})
        cache[("regulars", seed, scale)] = regulars
    ordinal = day.toordinal()
    for i, reg in enumerate(regulars):
        window = (ordinal + reg["phase"]) // reg["period"]
        if zlib.crc32(f"{seed}/{i}/{window}".encode()) % reg["period"] != (ordinal + reg["phase"]) % reg["period"]:
            continue
        tier = _pick(r, t.tiers, t.regular_tier_cum)
        score = round(m.tier_lo[tier] + r.random() * (m.tier_hi[tier] - m.tier_lo[tier]), 1)
        source = _pick(r, t.sources, t.source_cum)
        s = {"k": 0, "number": reg["initial"] + window, "day": 0, "tod": _tod(r, t), "tier": tier, "score": score, "pv": _page_views(r, t, tier, score),
             "source": source, "campaign": _campaign(r, t, source, True), "identified_before": reg["identified"], "form": None,
             "population": "regular"}
        sessions.append((None, reg, s))
    sessions.sort(key=lambda x: x[2]["tod"])
    rows = []
    for user, reg, s in sessions:
        _session_events(r, t, day_ms, user, reg, s, events)
        rows.append({
            "session_id": day_ms + s["tod"] * 1000, "person_id": user.person_id if user else reg["person_id"],
            "device_id": user.device_id if user else reg["device_id"],
            "user_id": (user.email if user and (s["identified_before"] or s["form"] is not None) else reg["email"] if reg and reg["identified"] else None),
            "session_number": s["number"], "is_returning": s["number"] > 1,
            "started_at": datetime.fromtimestamp((day_ms + s["tod"] * 1000) / 1000, tz=timezone.utc),
            "utm_source": m.source_names[s["source"]] if s["source"] is not None else None,
            "utm_medium": m.source_mediums[s["source"]] if s["source"] is not None else None,
            "campaign_id": int(m.campaign_ids[s["campaign"]]) if s["campaign"] is not None else None,
            "campaign_name": m.campaign_names[s["campaign"]] if s["campaign"] is not None else None,
            "platform": sj.PLATFORMS[m.campaign_platform[s["campaign"]]] if s["campaign"] is not None else None,
            "engagement_score": float(s["score"]), "engagement_tier": m.tier_names[s["tier"]], "page_views": s["pv"],
        })
    events.sort(key=lambda e: e["time"])
    session_frame = pl.DataFrame(rows, schema=SESSIONS)
    event_frame = pl.DataFrame(events, schema=amp.EVENTS)
    return {"sessions": session_frame, "events": event_frame}
