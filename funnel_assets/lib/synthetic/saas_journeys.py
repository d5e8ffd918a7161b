"""The SaaS journey simulation: one day of sessions, Amplitude events, form fills, outcomes and ad rows.

``simulate_saas_day(config, seed=..., day=...)`` returns a :class:`SaasDay` whose frames follow
``saas_schema`` (sessions, form fills, outcomes), ``saas_amplitude.EVENTS`` (events) and
``saas_ads`` (ad rows). Every number of the world comes from ``SaasConfig``; the few
behaviours the configuration does not describe are the module constants below.

How a day arises (deterministic and incremental)
-------------------------------------------------
Two populations visit the site and product:

* **Prospects** arrive in daily cohorts (Poisson with mean ``new_users_per_day * scale``).
  Cohorts are planned in fixed calendar blocks of ``BLOCK_DAYS`` arrival days (block =
  date ordinal // BLOCK_DAYS): a block's whole journeys are a pure function of
  ``(seed, block)``, vectorised over its people (loop over session number k): each session's engagement tier
  (the tier's ``share``; a returning session keeps the previous tier with probability
  ``ENGAGEMENT_PERSISTENCE``), score and page views, traffic source and paid campaign
  (re-engagement campaigns, targeting ``returning_users``, only from the second session
  on), a form fill (first form: the tier's ``form_probability``; identified people
  ``secondary_form_probability``; never in a tier whose ``form_probability`` is 0, i.e. a
  bounce), a rare anonymous direct purchase (``direct_purchase_probability`` on
  high-engagement anonymous sessions), and whether the person comes back (the tier's
  ``return_probability``) after a geometric gap of days (mean ``1 / RETURN_GAP_P``). The
  journey is cut at ``JOURNEY_HORIZON_DAYS`` after arrival (the chance of still being on
  it then is ~0.1%). Each form fill's future is planned with it: trial path, conversion
  (rate, day ~ N(avg, sd) clipped to ``TRIAL_CONVERSION_WINDOW``) or expiry at
  ``trial_days``, non-trial forms converting at ``paid_conversion_rate`` a few days after
  their CRM cadence ends, SKU by the path's tier mix, billing interval, amount.
  Self-service conversions happen in a product session on the conversion day (login,
  upgrade, checkout, purchase); sales-assisted and form conversions and expiries are
  server-side events.
* **Established visitors** ("regulars"): people who arrived before ``world_start`` —
  customers' team members who log in to the product and loyal readers. They come back
  about every 1-7 days (one visit in each window of their period, on a hashed day), so
  their sessions on any day are a pure function of ``(seed, day)``. Their number is sized
  so that prospects + regulars make ``sessions_per_day`` at steady state. They never fill
  forms or buy (their journeys ended before the world began). They are needed because the
  tiers' return probabilities (at most 0.75) cap a prospect at ~1.6 sessions on average,
  i.e. ~13K of the 75K daily sessions; the return-probability checks are about the
  prospects' journeys (``truth["cohort_sessions"]``), where they hold.

Day D = the sessions, forms and outcomes of cohorts arriving in ``[D - window, D]`` that
fall on D, plus D's regulars. Block plans are cached (LRU, 32 blocks), so consecutive days
plan a new block once every BLOCK_DAYS days; a cold day plans the ~11 live blocks. Event-level details (event times, page paths, clicks, insert ids, ad
noise) are seeded by ``(seed, D)``. The prospect journeys start at ``world_start`` (the
first cohort arrives that day), so returning prospect traffic ramps up over the first
weeks; regulars are there from day one.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

import numpy as np
import polars as pl

from funnel_assets.lib.synthetic import saas_ads, saas_amplitude
from funnel_assets.lib.synthetic.rng import fmt as _fmt, hash64, rng_for, uuid_strings
from funnel_assets.lib.synthetic.saas_config import SaasConfig
from funnel_assets.lib.synthetic.saas_schema import FORM_FILLS, OUTCOMES, SESSIONS

# ---- behaviours the configuration does not describe -------------------------------------
ENGAGEMENT_PERSISTENCE = 0.5
"""A returning prospect keeps the previous session's tier with this probability (else a fresh draw by share)."""
RETURN_GAP_P = 0.35
"""Days until a prospect's next visit ~ Geometric(p) on 1, 2, ... (mean ~2.9 days)."""
JOURNEY_HORIZON_DAYS = 60
"""A prospect's sessions are planned up to this many days after arrival."""
TRIAL_CONVERSION_WINDOW = (10, 16)
"""Trial conversion days are clipped to this range (seed 001: checked between days 10 and 16)."""
FORM_CONVERSION_EXTRA_DAYS = 7
"""A converting non-trial form converts 1..7 days after its CRM cadence's last step."""
REGULAR_PERIODS = np.arange(1, 8)
"""An established visitor comes about once every p days, p uniform on 1..7."""
REGULAR_IDENTIFIED_SHARE = 0.5
"""Share of established visitors who are logged-in product users (the rest are anonymous readers)."""
CART_ABANDON_PROBABILITY = 0.03
"""A high-engagement session without a form or purchase adds a plan to the cart and leaves (half remove it first)."""
PLATFORMS = ("google", "facebook")
COUNTRIES = (("United States", 0.48), ("United Kingdom", 0.1), ("Canada", 0.07), ("Germany", 0.07), ("India", 0.08),
             ("Australia", 0.05), ("France", 0.05), ("Netherlands", 0.04), ("Brazil", 0.03), ("Singapore", 0.03))
BROWSERS = (("Chrome", 0.62), ("Safari", 0.2), ("Edge", 0.1), ("Firefox", 0.08))
HOUR_WEIGHTS = np.array([2, 1.5, 1.2, 1, 1, 1.2, 1.8, 2.5, 3.5, 4.5, 5, 5.2, 5.5, 6, 6.5, 6.5, 6.2, 5.8, 5, 4.2, 3.5, 3, 2.6, 2.2])
"""Sessions by UTC hour: business hours across Europe and the Americas."""

_MAX_SESSIONS = 400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_KIND_CODES = ("trial_converted", "trial_expired", "form_converted", "direct_purchase")
POP_PROSPECT, POP_REGULAR, POP_PRODUCT = 0, 1, 2
POPULATIONS = ("prospect", "regular", "product")


@dataclass(frozen=True)
class SaasDay:
    day: date
    sessions: pl.DataFrame
    events: pl.DataFrame
    form_fills: pl.DataFrame
    outcomes: pl.DataFrame
    ad_rows_google: pl.DataFrame
    ad_rows_facebook: pl.DataFrame
    truth: dict[str, pl.DataFrame] = field(default_factory=dict)


def _cum(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    c = np.cumsum(w / w.sum())
    c[-1] = 1.0
    return c


def _choose(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1).astype(np.int32)


def _choose_rows(cum_rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per-row categorical choice: ``cum_rows`` (n, k) cumulative weights, ``u`` (n,)."""
    if len(u) == 0:
        return np.zeros(0, dtype=np.int32)
    return np.minimum((u[:, None] >= cum_rows).sum(axis=1), cum_rows.shape[1] - 1).astype(np.int32)


# ---- names ----------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _name_tables() -> dict[str, pl.Series]:
    """First/last names, companies and their domains, built once (Faker is slow per row)."""
    from faker import Faker
    from faker.providers.person.en_US import Provider as PersonProvider

    firsts = sorted({n for n in PersonProvider.first_names if n.isalpha()})
    lasts = sorted({n for n in PersonProvider.last_names if n.isalpha()})
    fake = Faker("en_US")
    fake.seed_instance(20250101)
    companies: list[str] = []
    seen: set[str] = set()
    while len(companies) < 600:
        name = fake.company()
        if name not in seen:
            seen.add(name)
            companies.append(name)
    suffixes = re.compile(r"\b(inc|llc|group|plc|ltd|and sons)\b")
    tlds = (".com", ".io", ".co", ".com", ".net")
    domains = []
    for i, name in enumerate(companies):
        slug = re.sub(r"[^a-z0-9]+", "-", suffixes.sub("", name.lower())).strip("-")
        domains.append(slug + tlds[i % len(tlds)])
    return {
        "first": pl.Series(firsts), "last": pl.Series(lasts),
        "first_lower": pl.Series([n.lower() for n in firsts]), "last_lower": pl.Series([n.lower() for n in lasts]),
        "company": pl.Series(companies), "domain": pl.Series(domains),
    }


# ---- the configuration as arrays -------------------------------------------------------------
class _Model:
    def __init__(self, config: SaasConfig):
        self.config = config
        tiers = config.engagement_tiers.sort("min_score")
        self.tier_names = tiers["tier"].to_list()
        self.tier_lo = tiers["min_score"].to_numpy().astype(np.float64)
        self.tier_hi = np.minimum(tiers["max_score"].to_numpy().astype(np.float64), 100.0)
        self.tier_share = tiers["share"].to_numpy()
        self.tier_cum = _cum(self.tier_share)
        self.form_p = tiers["form_probability"].to_numpy()
        self.return_p = tiers["return_probability"].to_numpy()
        self.no_form = self.form_p == 0
        high = np.array([name.endswith("high_engagement") for name in self.tier_names])
        if not high.any():  # unknown tier names: the top two by score
            high = np.arange(len(self.tier_names)) >= len(self.tier_names) - 2
        self.high = high
        self.top_tier = len(self.tier_names) - 1

        src = config.traffic_sources
        self.source_names = src["source"].to_list()
        self.source_mediums = src["medium"].to_list()
        self.source_cum = _cum(src["weight"].to_numpy())
        self.source_platform = np.array(
            [PLATFORMS.index(s) if m == "cpc" and s in PLATFORMS else -1 for s, m in zip(self.source_names, self.source_mediums)],
            dtype=np.int32)

        camp = config.campaigns
        self.campaign_ids = camp["campaign_id"].to_numpy()
        self.campaign_names = camp["campaign_name"].to_list()
        self.campaign_platform = np.array([PLATFORMS.index(p) for p in camp["platform"]], dtype=np.int32)
        self.campaign_targeting = camp["targeting"].to_list()
        self.campaign_type = camp["campaign_type"].to_list()
        weights = camp["weight"].to_numpy()
        self.campaign_choice: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray]] = {}
        for p in range(len(PLATFORMS)):
            for returning in (False, True):
                ok = (self.campaign_platform == p) & np.array([returning or t != "returning_users" for t in self.campaign_targeting])
                idx = np.flatnonzero(ok)
                if len(idx):
                    self.campaign_choice[(p, returning)] = (idx.astype(np.int32), _cum(weights[idx]))

        forms = config.form_types
        self.form_names = forms["form_type"].to_list()
        self.form_events = forms["event_name"].to_list()
        self.form_lead_source = forms["lead_source"].to_list()
        self.form_cum = _cum(forms["weight"].to_numpy())
        self.form_rate = forms["paid_conversion_rate"].fill_null(0.0).to_numpy()
        self.form_sales_touched = np.array([p in ("high", "medium") for p in forms["sales_priority"]])
        self.trial_form = self.form_names.index("trial_signup")
        nontrial = np.array([i for i in range(len(self.form_names)) if i != self.trial_form], dtype=np.int32)
        self.nontrial_forms = nontrial
        self.nontrial_cum = _cum(forms["weight"].to_numpy()[nontrial])
        cadence = dict(config.activity_templates.group_by("template").agg(pl.col("day_offset").max()).rows())
        self.form_delay = np.array([int(cadence.get(f, 0)) for f in self.form_names], dtype=np.int32)

        paths = config.trial_paths
        self.path_names = paths["trial_path"].to_list()
        self.path_cum = _cum(paths["weight"].to_numpy())
        self.path_conv = paths["conversion_rate"].to_numpy()
        self.path_avg = paths["avg_conversion_day"].to_numpy()
        self.path_sd = paths["conversion_day_sd"].to_numpy()
        self.self_service = self.path_names.index("self_service")
        self.sales_assisted = self.path_names.index("sales_assisted")

        prods = config.products
        self.skus = prods["sku"].to_list()
        self.product_names = prods["name"].to_list()
        self.price_monthly = prods["price_monthly_cents"].to_numpy()
        self.price_annual = prods["price_annual_cents"].to_numpy()
        shares = np.zeros((len(self.path_names), len(self.skus)))
        for path, sku, share in config.trial_tiers.select("trial_path", "sku", "share").rows():
            shares[self.path_names.index(path), self.skus.index(sku)] = share
        self.path_tier_cum = np.vstack([_cum(row) for row in shares])

        s = config.setting
        self.sessions_per_day = s("sessions_per_day")
        self.new_per_day = s("new_users_per_day")
        self.trial_days = int(s("trial_days"))
        self.annual_share = s("annual_billing_share")
        self.secondary_p = s("secondary_form_probability")
        self.direct_p = s("direct_purchase_probability")
        self.max_pv = int(s("max_pageviews_per_session"))

        self.country_names = [c for c, _ in COUNTRIES]
        self.country_cum = _cum([w for _, w in COUNTRIES])
        self.browser_names = [b for b, _ in BROWSERS]
        self.browser_cum = _cum([w for _, w in BROWSERS])
        self.hour_cum = _cum(HOUR_WEIGHTS)

        # how far back a cohort can still produce something on a day
        lo, hi = TRIAL_CONVERSION_WINDOW
        self.window = JOURNEY_HORIZON_DAYS + max(hi, self.trial_days, int(self.form_delay.max()) + FORM_CONVERSION_EXTRA_DAYS)
        self.expected_sessions_per_prospect = self._expected_sessions()

    def _expected_sessions(self) -> float:
        """Sessions per prospect under the tier chain (ignoring the horizon cut, ~0.1%)."""
        r, s, rho = self.return_p, self.tier_share, ENGAGEMENT_PERSISTENCE
        a = float(np.sum(s * r / (1 - r * rho)))
        return 1.0 + a / (1 - (1 - rho) * a)

    def regular_count(self, scale: float) -> int:
        target = max(0.0, self.sessions_per_day - self.new_per_day * self.expected_sessions_per_prospect) * scale
        return int(round(target / float(np.mean(1.0 / REGULAR_PERIODS))))


_MODELS: OrderedDict[int, _Model] = OrderedDict()


def _model(config: SaasConfig) -> _Model:
    m = _MODELS.get(id(config))
    if m is None or m.config is not config:
        m = _Model(config)
        _MODELS[id(config)] = m
        while len(_MODELS) > 4:
            _MODELS.popitem(last=False)
    return m


# ---- a cohort's plan -------------------------------------------------------------------------
BLOCK_DAYS = 8
"""Cohorts are planned in blocks of this many consecutive arrival days (ordinal // BLOCK_DAYS)."""


@dataclass
class CohortPlan:
    """A block of cohorts' whole journeys; arrays sorted by day offset from the block's first day,
    ``*_start[d]`` = first row of day d. ``people["arrival"]`` is each person's arrival offset,
    ``people["index"]`` their number within their cohort."""

    first_day: date
    people: dict[str, np.ndarray]
    sessions: dict[str, np.ndarray]
    session_start: np.ndarray
    forms: dict[str, np.ndarray]
    form_start: np.ndarray
    outcomes: dict[str, np.ndarray]
    outcome_start: np.ndarray


def _page_views(m: _Model, tier: np.ndarray, score: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One page for the lowest tier; otherwise growing with the score, 2..max."""
    pv = np.rint(1 + score / 100.0 * (m.max_pv - 1) + (u - 0.5) * 3).astype(np.int32)
    pv = np.clip(pv, 2, m.max_pv)
    pv[tier == 0] = 1
    return pv


def _seconds_of_day(m: _Model, u_hour: np.ndarray, u_sec: np.ndarray) -> np.ndarray:
    return (_choose(m.hour_cum, u_hour) * 3600 + np.floor(u_sec * 3600)).astype(np.int32)


def _campaigns(m: _Model, source: np.ndarray, u: np.ndarray, returning: np.ndarray | bool) -> np.ndarray:
    out = np.full(len(source), -1, dtype=np.int32)
    platform = m.source_platform[source] if len(source) else np.zeros(0, dtype=np.int32)
    returning = np.broadcast_to(np.asarray(returning), len(source))
    for (p, ret), (idx, cum) in m.campaign_choice.items():
        sel = (platform == p) & (returning == ret)
        if sel.any():
            out[sel] = idx[_choose(cum, u[sel])]
    return out


def _cat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


def _block_of(cohort: date) -> int:
    return cohort.toordinal() // BLOCK_DAYS


@lru_cache(maxsize=32)
def _plan_cached(m: _Model, seed: int, block: int, scale: float) -> CohortPlan:
    """The journeys of the cohorts arriving on the BLOCK_DAYS days of ``block``: a pure function of (seed, block)."""
    first_day = date.fromordinal(block * BLOCK_DAYS)
    rng = rng_for(seed, "saas-cohort-block", block)
    sizes = rng.poisson(m.new_per_day * scale, BLOCK_DAYS) if scale > 0 else np.zeros(BLOCK_DAYS, np.int64)
    n = int(sizes.sum())
    arrival = np.repeat(np.arange(BLOCK_DAYS, dtype=np.int32), sizes)
    index = (np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)).astype(np.int32)
    pu = rng.random((n, 6))
    names = _name_tables()
    people = {
        "arrival": arrival, "index": index,
        "first": (pu[:, 0] * len(names["first"])).astype(np.int32),
        "last": (pu[:, 1] * len(names["last"])).astype(np.int32),
        "company": (pu[:, 2] * len(names["company"])).astype(np.int32),
        "country": _choose(m.country_cum, pu[:, 3]),
        "browser": _choose(m.browser_cum, pu[:, 4]),
        "mobile": pu[:, 5] < 0.3,
    }
    identified = np.zeros(n, dtype=bool)
    had_trial = np.zeros(n, dtype=bool)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in (
        "person", "k", "day", "tod", "tier", "score", "pv", "source", "campaign", "form", "identified_before",
        "direct", "returns", "next_day")}
    active = np.arange(n, dtype=np.int32)
    day = np.zeros(n, dtype=np.int32)
    prev = np.zeros(n, dtype=np.int32)
    k = 1
    while active.size and k <= _MAX_SESSIONS:
        size = active.size
        u = rng.random((size, 14))
        fresh = _choose(m.tier_cum, u[:, 1])
        tier = fresh if k == 1 else np.where(u[:, 0] < ENGAGEMENT_PERSISTENCE, prev, fresh).astype(np.int32)
        score = np.round(m.tier_lo[tier] + u[:, 2] * (m.tier_hi[tier] - m.tier_lo[tier]), 1)
        pv = _page_views(m, tier, score, u[:, 13])
        tod = _seconds_of_day(m, u[:, 3], u[:, 4])
        source = _choose(m.source_cum, u[:, 5])
        campaign = _campaigns(m, source, u[:, 6], k > 1)
        before = identified[active]
        p = np.where(before, m.secondary_p, m.form_p[tier])
        p[m.no_form[tier]] = 0.0
        fill = u[:, 7] < p
        form = np.where(fill, _choose(m.form_cum, u[:, 8]), -1).astype(np.int32)
        redo = fill & had_trial[active] & (form == m.trial_form)
        if redo.any():  # one trial per person: a secondary form is then another type
            form[redo] = m.nontrial_forms[_choose(m.nontrial_cum, u[redo, 9])]
        direct = ~before & ~fill & m.high[tier] & (u[:, 10] < m.direct_p)
        returns = u[:, 11] < m.return_p[tier]
        gap = 1 + np.floor(np.log1p(-u[:, 12]) / np.log1p(-RETURN_GAP_P)).astype(np.int32)
        nxt = day + gap
        returns &= nxt <= JOURNEY_HORIZON_DAYS
        identified[active[fill]] = True
        had_trial[active[form == m.trial_form]] = True
        for name, value in (("person", active), ("k", np.full(size, k)), ("day", day), ("tod", tod), ("tier", tier),
                            ("score", score), ("pv", pv), ("source", source), ("campaign", campaign), ("form", form),
                            ("identified_before", before), ("direct", direct), ("returns", returns),
                            ("next_day", np.where(returns, nxt, -1))):
            cols[name].append(value)
        active, day, prev = active[returns], nxt[returns], tier[returns]
        k += 1
    dtypes = {"score": np.float64, "identified_before": bool, "direct": bool, "returns": bool}
    sess = {name: _cat(parts, dtypes.get(name, np.int32)) for name, parts in cols.items()}
    ns = len(sess["person"])
    # days were counted from each person's arrival; from here on they count from the block's first day
    arrived = arrival[sess["person"]]
    sess["day"] = sess["day"] + arrived
    sess["next_day"] = np.where(sess["next_day"] >= 0, sess["next_day"] + arrived, -1).astype(np.int32)
    sess["pop"] = np.zeros(ns, dtype=np.int8)

    # forms and their planned futures
    fi = np.flatnonzero(sess["form"] >= 0)
    nf = len(fi)
    fu = rng.random((nf, 6))
    z = rng.standard_normal(nf)
    ftype = sess["form"][fi]
    fday = sess["day"][fi]
    is_trial = ftype == m.trial_form
    path = np.where(is_trial, _choose(m.path_cum, fu[:, 0]), -1).astype(np.int32)
    pidx = np.maximum(path, 0)
    converts = np.where(is_trial, fu[:, 1] < m.path_conv[pidx], fu[:, 1] < m.form_rate[ftype])
    lo, hi = TRIAL_CONVERSION_WINDOW
    trial_conv_day = np.clip(np.rint(m.path_avg[pidx] + m.path_sd[pidx] * z), lo, hi).astype(np.int32)
    other_delay = m.form_delay[ftype] + 1 + np.floor(fu[:, 4] * FORM_CONVERSION_EXTRA_DAYS).astype(np.int32)
    converts_on = np.where(converts, fday + np.where(is_trial, trial_conv_day, other_delay), -1).astype(np.int32)
    outcome_on = np.where(is_trial & ~converts, fday + m.trial_days, converts_on).astype(np.int32)
    mix = np.where(is_trial, pidx, np.where(m.form_sales_touched[ftype], m.sales_assisted, m.self_service))
    sku = np.where(converts, _choose_rows(m.path_tier_cum[mix], fu[:, 2]), -1).astype(np.int32)
    annual = converts & (fu[:, 3] < m.annual_share)
    ssku = np.maximum(sku, 0)
    amount = np.where(converts, np.where(annual, m.price_annual[ssku], m.price_monthly[ssku]), 0)
    forms = {"person": sess["person"][fi], "session": fi.astype(np.int32), "form": ftype, "day": fday,
             "secondary": sess["identified_before"][fi], "path": path, "converts": converts, "converts_on": converts_on,
             "outcome_on": outcome_on, "sku": sku, "annual": annual, "amount": amount.astype(np.int64)}

    # self-service conversions happen in a product session on the conversion day
    ss = np.flatnonzero(is_trial & converts & (path == m.self_service))
    npd = len(ss)
    qu = rng.random((npd, 4))
    prod_tier = np.full(npd, m.top_tier, dtype=np.int32)
    prod_score = np.round(m.tier_lo[prod_tier] + qu[:, 0] * (m.tier_hi[prod_tier] - m.tier_lo[prod_tier]), 1)
    product = {
        "person": forms["person"][ss], "k": np.zeros(npd, np.int32), "day": converts_on[ss], "tod": _seconds_of_day(m, qu[:, 1], qu[:, 2]),
        "tier": prod_tier, "score": prod_score, "pv": _page_views(m, prod_tier, prod_score, qu[:, 3]),
        "source": np.full(npd, -1, np.int32), "campaign": np.full(npd, -1, np.int32), "form": np.full(npd, -1, np.int32),
        "identified_before": np.ones(npd, bool), "direct": np.zeros(npd, bool), "returns": np.zeros(npd, bool),
        "next_day": np.full(npd, -1, np.int32), "pop": np.full(npd, POP_PRODUCT, np.int8),
    }
    sess = {name: np.concatenate([sess[name], product[name]]) for name in sess}

    # outcomes: trial results, form conversions, direct purchases
    di = np.flatnonzero(sess["direct"])
    nd = len(di)
    du = rng.random((nd, 2))
    dsku = _choose_rows(m.path_tier_cum[np.full(nd, m.self_service)], du[:, 0])
    dannual = du[:, 1] < m.annual_share
    trial_rows = np.flatnonzero(is_trial)
    conv_rows = np.flatnonzero(~is_trial & converts)
    product_session = np.full(nf, -1, np.int32)
    product_session[ss] = ns + np.arange(npd, dtype=np.int32)
    kind = np.concatenate([np.where(converts[trial_rows], 0, 1), np.full(len(conv_rows), 2), np.full(nd, 3)]).astype(np.int8)
    form_ref = np.concatenate([trial_rows, conv_rows, np.full(nd, -1)]).astype(np.int32)
    outs = {
        "kind": kind,
        "form_ref": form_ref,
        "person": np.concatenate([forms["person"][trial_rows], forms["person"][conv_rows], sess["person"][di]]).astype(np.int32),
        "day": np.concatenate([outcome_on[trial_rows], converts_on[conv_rows], sess["day"][di]]).astype(np.int32),
        "session": np.concatenate([product_session[trial_rows], np.full(len(conv_rows), -1), di]).astype(np.int32),
        "tod": _seconds_of_day(m, *rng.random((2, len(kind)))),
        "sku": np.concatenate([sku[trial_rows], sku[conv_rows], dsku]).astype(np.int32),
        "annual": np.concatenate([annual[trial_rows], annual[conv_rows], dannual]),
    }
    osku = np.maximum(outs["sku"], 0)
    outs["amount"] = np.where(outs["sku"] >= 0, np.where(outs["annual"], m.price_annual[osku], m.price_monthly[osku]), 0).astype(np.int64)

    # session numbers (product sessions interleave with the journey), then sort everything by day
    order = np.lexsort((sess["tod"], sess["day"], sess["person"]))
    person_sorted = sess["person"][order]
    starts = np.r_[0, np.flatnonzero(np.diff(person_sorted)) + 1]
    group_first = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    number = np.empty(len(order), np.int32)
    number[order] = np.arange(len(order)) - group_first + 1
    sess["k"] = number
    by_day = np.argsort(sess["day"], kind="stable")
    new_pos = np.empty_like(by_day)
    new_pos[by_day] = np.arange(len(by_day))
    sess = {name: value[by_day] for name, value in sess.items()}
    forms["session"] = new_pos[forms["session"]].astype(np.int32)
    outs["session"] = np.where(outs["session"] >= 0, new_pos[np.maximum(outs["session"], 0)], -1).astype(np.int32)
    fo = np.argsort(forms["day"], kind="stable")
    fpos = np.empty_like(fo)
    fpos[fo] = np.arange(len(fo))
    forms = {name: value[fo] for name, value in forms.items()}
    outs["form_ref"] = np.where(outs["form_ref"] >= 0, fpos[np.maximum(outs["form_ref"], 0)], -1).astype(np.int32)
    oo = np.argsort(outs["day"], kind="stable")
    outs = {name: value[oo] for name, value in outs.items()}
    days = np.arange(m.window + BLOCK_DAYS + 2)
    return CohortPlan(
        first_day=first_day, people=people,
        sessions=sess, session_start=np.searchsorted(sess["day"], days),
        forms=forms, form_start=np.searchsorted(forms["day"], days),
        outcomes=outs, outcome_start=np.searchsorted(outs["day"], days),
    )


# ---- established visitors ---------------------------------------------------------------------
@lru_cache(maxsize=8)
def _regulars(m: _Model, seed: int, scale: float) -> dict[str, np.ndarray]:
    n = m.regular_count(scale)
    rng = rng_for(seed, "saas-regulars")
    u = rng.random((n, 9))
    names = _name_tables()
    period = REGULAR_PERIODS[(u[:, 0] * len(REGULAR_PERIODS)).astype(np.int64)]
    return {
        "period": period.astype(np.int64),
        "phase": np.floor(u[:, 1] * period).astype(np.int64),
        "initial": (2 + np.floor(np.log1p(-u[:, 2]) / np.log1p(-0.05))).astype(np.int64),
        "identified": u[:, 3] < REGULAR_IDENTIFIED_SHARE,
        "first": (u[:, 4] * len(names["first"])).astype(np.int32),
        "last": (u[:, 5] * len(names["last"])).astype(np.int32),
        "company": (u[:, 6] * len(names["company"])).astype(np.int32),
        "country": _choose(m.country_cum, u[:, 7]),
        "browser": _choose(m.browser_cum, u[:, 8]),
        "mobile": rng.random(n) < 0.3,
    }


def _regular_sessions(m: _Model, seed: int, day: date, scale: float, world_start: date) -> dict[str, np.ndarray]:
    reg = _regulars(m, seed, scale)
    n = len(reg["period"])
    ordinal = day.toordinal()
    p, phase = reg["period"], reg["phase"]
    window = (ordinal + phase) // p
    pick = hash64(seed, "saas-regular-visit", np.arange(n, dtype=np.int64), window) % p.astype(np.uint64)
    idx = np.flatnonzero(pick.astype(np.int64) == (ordinal + phase) % p)
    number = reg["initial"][idx] + window[idx] - (world_start.toordinal() + phase[idx]) // p[idx] + 1
    size = len(idx)
    rng = rng_for(seed, "saas-regular-sessions", day)
    u = rng.random((size, 8))
    tier = _choose(m.tier_cum, u[:, 0])
    score = np.round(m.tier_lo[tier] + u[:, 1] * (m.tier_hi[tier] - m.tier_lo[tier]), 1)
    source = _choose(m.source_cum, u[:, 4])
    return {
        "person": idx.astype(np.int32), "k": number.astype(np.int32), "day": np.zeros(size, np.int32),
        "tod": _seconds_of_day(m, u[:, 2], u[:, 3]), "tier": tier, "score": score, "pv": _page_views(m, tier, score, u[:, 6]),
        "source": source, "campaign": _campaigns(m, source, u[:, 5], True), "form": np.full(size, -1, np.int32),
        "identified_before": reg["identified"][idx], "direct": np.zeros(size, bool), "returns": np.ones(size, bool),
        "next_day": np.full(size, -1, np.int32), "pop": np.full(size, POP_REGULAR, np.int8),
    }


# ---- identities ---------------------------------------------------------------------------------
def _identities(seed: int, pop: np.ndarray, cohort_ordinal: np.ndarray, person: np.ndarray,
                first: np.ndarray, last: np.ndarray, company: np.ndarray) -> pl.DataFrame:
    """person_id, device_id, email, names and company for people (prospect or regular)."""
    names = _name_tables()
    regular = pop == POP_REGULAR
    key = np.where(regular, (1 << 40) + person.astype(np.int64), cohort_ordinal.astype(np.int64) * (1 << 20) + person)
    device = uuid_strings(hash64(seed, "saas-device-hi", key), hash64(seed, "saas-device-lo", key))
    day_str = (pl.Series(cohort_ordinal.astype(np.int64) - _EPOCH_ORDINAL).cast(pl.Int32).cast(pl.Date)).dt.strftime("%Y%m%d")
    pstr = pl.Series(person.astype(np.int64)).cast(pl.String).str.zfill(6)
    frame = pl.DataFrame({
        "regular": regular, "day_str": day_str, "pstr": pstr,
        "tag": pl.Series(np.where(regular, 0, cohort_ordinal.astype(np.int64) - 730000)).cast(pl.String),
        "first_name": names["first"].gather(first), "last_name": names["last"].gather(last),
        "fl": names["first_lower"].gather(first), "ll": names["last_lower"].gather(last),
        "company": names["company"].gather(company), "domain": names["domain"].gather(company), "device_id": device,
    })
    return frame.select(
        person_id=pl.when(pl.col("regular")).then(_fmt("r{}", "pstr")).otherwise(_fmt("p{}-{}", "day_str", "pstr")),
        device_id="device_id",
        email=pl.when(pl.col("regular")).then(_fmt("{}.{}.r{}@{}", "fl", "ll", "pstr", "domain"))
        .otherwise(_fmt("{}.{}{}{}@{}", "fl", "ll", "tag", "pstr", "domain")),
        first_name="first_name", last_name="last_name", company="company",
    )


# ---- the day ------------------------------------------------------------------------------------
def _day_start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)


def _ms_to_utc(ms: pl.Series | np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(ms, dtype=np.int64) * 1000).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _dates(offsets: np.ndarray, base_ordinal: np.ndarray) -> pl.Series:
    """Dates base + offset; null where offset < 0."""
    days = np.where(offsets >= 0, base_ordinal + offsets - _EPOCH_ORDINAL, 0)
    return pl.Series(days.astype(np.int32)).cast(pl.Date).scatter(np.flatnonzero(offsets < 0), None) if (offsets < 0).any() \
        else pl.Series(days.astype(np.int32)).cast(pl.Date)


def _gather(values: list, idx: np.ndarray) -> pl.Series:
    """values[idx] as a String series, null where idx < 0."""
    series = pl.Series(values + [None], dtype=pl.String)
    return series.gather(np.where(idx >= 0, idx, len(values)))


def simulate_saas_day(config: SaasConfig, *, seed: int, day: date, scale: float = 1.0,
                      world_start: date = date(2025, 1, 1)) -> SaasDay:
    """One day of the SaaS world (see the module docstring). Deterministic in (seed, day, scale, world_start)."""
    if day < world_start:
        raise ValueError(f"day {day} is before world_start {world_start}")
    m = _model(config)
    seed, scale = int(seed), float(scale)
    ordinal = day.toordinal()

    # gather the day's rows of every live cohort, then the regulars
    first_cohort = max(world_start, day - timedelta(days=m.window))
    ws_ord = world_start.toordinal()
    sess_parts: list[dict] = []
    form_parts: list[dict] = []
    out_parts: list[dict] = []
    row_offset = 0
    for block in range(_block_of(first_cohort), _block_of(day) + 1):
        plan = _plan_cached(m, seed, block, scale)
        base = plan.first_day.toordinal()
        d = ordinal - base
        s0, s1 = plan.session_start[d], plan.session_start[d + 1]
        f0, f1 = plan.form_start[d], plan.form_start[d + 1]
        o0, o1 = plan.outcome_start[d], plan.outcome_start[d + 1]
        # cohorts before world_start do not exist (a block may straddle it)
        s_keep = base + plan.people["arrival"][plan.sessions["person"][s0:s1]] >= ws_ord
        new_row = np.cumsum(s_keep) - 1 + row_offset
        if s_keep.any():
            part = {k: v[s0:s1][s_keep] for k, v in plan.sessions.items()}
            person = part["person"]
            part.update({a: plan.people[a][person] for a in plan.people})
            part["base"] = np.full(len(person), base, np.int64)
            part["cohort"] = base + part["arrival"].astype(np.int64)
            sess_parts.append(part)
        f_keep = base + plan.people["arrival"][plan.forms["person"][f0:f1]] >= ws_ord
        if f_keep.any():
            part = {k: v[f0:f1][f_keep] for k, v in plan.forms.items()}
            part["session"] = new_row[part["session"] - s0]
            part.update({a: plan.people[a][part["person"]] for a in ("first", "last", "company", "arrival", "index")})
            part["base"] = np.full(len(part["person"]), base, np.int64)
            part["cohort"] = base + part["arrival"].astype(np.int64)
            form_parts.append(part)
        o_keep = base + plan.people["arrival"][plan.outcomes["person"][o0:o1]] >= ws_ord
        if o_keep.any():
            part = {k: v[o0:o1][o_keep] for k, v in plan.outcomes.items()}
            bound = part["session"] >= 0
            mapped = np.full(len(bound), -1, dtype=np.int64)
            mapped[bound] = new_row[part["session"][bound] - s0]
            part["session"] = mapped
            part["base"] = np.full(len(part["person"]), base, np.int64)
            ref = part["form_ref"]
            has = ref >= 0
            sref = np.maximum(ref, 0)
            part["form"] = np.where(has, plan.forms["form"][sref], -1)
            part["path"] = np.where(has, plan.forms["path"][sref], -1)
            part["form_day"] = np.where(has, plan.forms["day"][sref], d)
            part.update({a: plan.people[a][part["person"]] for a in ("first", "last", "company", "country", "browser", "mobile", "arrival", "index")})
            part["cohort"] = base + part["arrival"].astype(np.int64)
            out_parts.append(part)
        row_offset += int(s_keep.sum())
    reg = _regulars(m, seed, scale)
    rs = _regular_sessions(m, seed, day, scale, world_start)
    rs["cohort"] = np.zeros(len(rs["person"]), np.int64)
    rs["base"] = np.zeros(len(rs["person"]), np.int64)
    rs["arrival"] = np.zeros(len(rs["person"]), np.int32)
    rs["index"] = rs["person"]
    rs.update({a: reg[a][rs["person"]] for a in ("first", "last", "company", "country", "browser", "mobile")})
    sess_parts.append(rs)
    sess = {k: np.concatenate([p[k] for p in sess_parts]) for k in rs}
    forms = {k: np.concatenate([p[k] for p in form_parts]) for k in form_parts[0]} if form_parts else None
    outs = {k: np.concatenate([p[k] for p in out_parts]) for k in out_parts[0]} if out_parts else None

    # chronological session order
    day_ms = _day_start_ms(day)
    start_ms = day_ms + sess["tod"].astype(np.int64) * 1000
    order = np.lexsort((sess["index"], sess["cohort"], start_ms))
    pos = np.empty_like(order)
    pos[order] = np.arange(len(order))
    sess = {k: v[order] for k, v in sess.items()}
    start_ms = start_ms[order]
    ns = len(start_ms)
    # stagger sessions starting the same second on a device is impossible (one person, one session a day)
    if forms is not None:
        forms["session"] = pos[forms["session"]]
    if outs is not None:
        outs["session"] = np.where(outs["session"] >= 0, pos[np.maximum(outs["session"], 0)], -1)

    ident = _identities(seed, sess["pop"], sess["cohort"], sess["index"], sess["first"], sess["last"], sess["company"])
    identified_after = sess["identified_before"].copy()
    session_form = np.full(ns, -1, np.int32)
    if forms is not None:
        identified_after[forms["session"]] = True
        session_form[forms["session"]] = forms["form"]
    tier_names = pl.Series(m.tier_names)
    source = sess["source"]
    campaign = sess["campaign"]
    sessions = pl.DataFrame({
        "session_id": start_ms,
        "person_id": ident["person_id"],
        "device_id": ident["device_id"],
        "user_id": ident["email"].set(pl.Series(~identified_after), None),
        "session_number": sess["k"].astype(np.int32),
        "is_returning": sess["k"] > 1,
        "started_at": _ms_to_utc(start_ms),
        "utm_source": _gather(m.source_names, source),
        "utm_medium": _gather(m.source_mediums, source),
        "campaign_id": pl.Series(np.where(campaign >= 0, m.campaign_ids[np.maximum(campaign, 0)], 0)).set(pl.Series(campaign < 0), None),
        "campaign_name": _gather(m.campaign_names, campaign),
        "platform": _gather(list(PLATFORMS), np.where(campaign >= 0, m.campaign_platform[np.maximum(campaign, 0)], -1)),
        "engagement_score": sess["score"],
        "engagement_tier": tier_names.gather(sess["tier"]),
        "page_views": sess["pv"].astype(np.int32),
    }, schema=SESSIONS)

    # form fills and outcomes need each person's identity
    names = _name_tables()
    if forms is not None:
        fid = _identities(seed, np.zeros(len(forms["person"]), np.int8), forms["cohort"], forms["index"],
                          forms["first"], forms["last"], forms["company"])
    if outs is not None:
        oid = _identities(seed, np.zeros(len(outs["person"]), np.int8), outs["cohort"], outs["index"],
                          outs["first"], outs["last"], outs["company"])

    # events (Amplitude); special events tell us when forms and session-bound outcomes happened
    specials = _specials(m, sess, forms, outs, ns, seed, day)
    server = _server_events(m, day_ms, outs, oid if outs is not None else None) if outs is not None else None
    events, special_times = saas_amplitude.build_events(
        seed=seed, day=day, sessions=sessions, session_detail=pl.DataFrame({
            "population": sess["pop"], "tier": sess["tier"], "identified_before": sess["identified_before"],
            "identified_after": identified_after, "country": _gather(m.country_names, sess["country"]),
            "os_name": _gather(m.browser_names, sess["browser"]), "mobile": sess["mobile"],
        }), specials=specials, server=server)

    # form fills
    if forms is not None:
        submitted = special_times.filter(pl.col("ref_kind") == "form").sort("ref")["time"].to_numpy()
        fsess = forms["session"]
        fc = forms["base"]
        conv = forms["converts"]
        sku = forms["sku"]
        form_fills = pl.DataFrame({
            "person_id": fid["person_id"], "device_id": fid["device_id"], "user_id": fid["email"], "email": fid["email"],
            "first_name": fid["first_name"], "last_name": fid["last_name"], "company": fid["company"],
            "form_type": _gather(m.form_names, forms["form"]),
            "submitted_at": _ms_to_utc(submitted),
            "session_id": start_ms[fsess],
            "utm_source": sessions["utm_source"].gather(fsess), "utm_medium": sessions["utm_medium"].gather(fsess),
            "campaign_name": sessions["campaign_name"].gather(fsess),
            "is_secondary": forms["secondary"],
            "trial_path": _gather(m.path_names, forms["path"]),
            "trial_ends_on": _dates(np.where(forms["path"] >= 0, forms["day"] + m.trial_days, -1), fc),
            "converts": conv,
            "converts_on": _dates(forms["converts_on"], fc),
            "outcome_on": _dates(forms["outcome_on"], fc),
            "sku": _gather(m.skus, sku),
            "billing_interval": _gather(["month", "year"], np.where(conv, forms["annual"].astype(np.int32), -1)),
            "amount_cents": pl.Series(forms["amount"]).set(pl.Series(~conv), None),
        }, schema=FORM_FILLS).sort("submitted_at", "person_id")
    else:
        form_fills = pl.DataFrame(schema=FORM_FILLS)

    # outcomes
    if outs is not None:
        times = np.full(len(outs["kind"]), -1, np.int64)
        st = special_times.filter(pl.col("ref_kind") == "outcome")
        times[st["ref"].to_numpy()] = st["time"].to_numpy()
        server_times = day_ms + outs["tod"].astype(np.int64) * 1000
        times = np.where(times >= 0, times, server_times)
        direct = outs["kind"] == 3
        osku = outs["sku"]
        outcomes = pl.DataFrame({
            "person_id": oid["person_id"],
            "user_id": oid["email"].set(pl.Series(direct), None),
            "email": oid["email"],
            "kind": _gather(list(_KIND_CODES), outs["kind"].astype(np.int32)),
            "form_type": _gather(m.form_names, outs["form"]),
            "trial_path": _gather(m.path_names, outs["path"]),
            "started_on": _dates(outs["form_day"], outs["base"]),
            "happened_at": _ms_to_utc(times),
            "sku": _gather(m.skus, osku),
            "billing_interval": _gather(["month", "year"], np.where(osku >= 0, outs["annual"].astype(np.int32), -1)),
            "amount_cents": pl.Series(outs["amount"]).set(pl.Series(osku < 0), None),
        }, schema=OUTCOMES).sort("happened_at", "person_id")
    else:
        outcomes = pl.DataFrame(schema=OUTCOMES)

    google, facebook = saas_ads.ad_rows(config, sessions, day=day, seed=seed)

    truth = {
        "session_plan": sessions.select("session_id", "person_id", "session_number", "engagement_tier").with_columns(
            population=_gather(list(POPULATIONS), sess["pop"].astype(np.int32)),
            returns=pl.Series(sess["returns"] & (sess["pop"] == POP_PROSPECT)),
            next_session_on=_dates(np.where(sess["pop"] == POP_PROSPECT, sess["next_day"], -1), sess["base"]),
            form_type=_gather(m.form_names, session_form),
            identified_before=pl.Series(sess["identified_before"]),
            direct_purchase=pl.Series(sess["direct"]),
        ),
    }
    if day >= world_start:
        truth.update(_cohort_truth(m, seed, _plan_cached(m, seed, _block_of(day), scale), day))
    return SaasDay(day, sessions, events, form_fills, outcomes, google, facebook, truth)


def _specials(m: _Model, sess: dict, forms: dict | None, outs: dict | None, ns: int, seed: int, day: date) -> pl.DataFrame:
    """The non-browsing events of the day's sessions, in order within each session."""
    rows: list[pl.DataFrame] = []
    schema = {"session_row": pl.Int64, "seq": pl.Int32, "event_type": pl.String, "event_properties": pl.String,
              "ref_kind": pl.String, "ref": pl.Int64}
    # abandoned carts: engaged visitors who add a plan to the cart and leave without buying
    busy = np.zeros(ns, bool)
    if forms is not None:
        busy[forms["session"]] = True
    if outs is not None:
        busy[outs["session"][outs["session"] >= 0]] = True
    rng = rng_for(seed, "saas-carts", day)
    u = rng.random((ns, 3))
    carts = np.flatnonzero(m.high[sess["tier"]] & ~busy & (sess["pop"] != POP_PRODUCT) & (u[:, 0] < CART_ABANDON_PROBABILITY))
    if len(carts):
        sku = _choose_rows(m.path_tier_cum[np.full(len(carts), m.self_service)], u[carts, 1])
        c = pl.DataFrame({"session_row": carts.astype(np.int64), "sku": _gather(m.skus, sku), "name": _gather(m.product_names, sku),
                          "amount": m.price_monthly[sku] / 100.0, "remove": u[carts, 2] < 0.5})
        props = _fmt('{"product_sku":"{}","product_name":"{}","amount":{}}', "sku", "name", pl.col("amount").round(2))
        rows.append(c.select("session_row", seq=pl.lit(0, pl.Int32), event_type=pl.lit("add_to_cart"), event_properties=props,
                             ref_kind=pl.lit(None, pl.String), ref=pl.lit(None, pl.Int64)))
        rows.append(c.select("session_row", seq=pl.lit(1, pl.Int32),
                             event_type=pl.when("remove").then(pl.lit("remove_from_cart")).otherwise(pl.lit("checkout_start")),
                             event_properties=props, ref_kind=pl.lit(None, pl.String), ref=pl.lit(None, pl.Int64)))
    if forms is not None and len(forms["form"]):
        nf = len(forms["form"])
        f = pl.DataFrame({
            "session_row": forms["session"].astype(np.int64), "ref": np.arange(nf, dtype=np.int64),
            "event_type": _gather(m.form_events, forms["form"]), "form_type": _gather(m.form_names, forms["form"]),
            "lead_source": _gather(m.form_lead_source, forms["form"]), "trial_path": _gather(m.path_names, forms["path"]),
            "secondary": forms["secondary"],
        })
        rows.append(f.select(
            "session_row", seq=pl.lit(0, pl.Int32), event_type="event_type",
            event_properties=pl.concat_str([pl.lit("{"), pl.concat_str([
                _fmt('"form_type":"{}"', "form_type"), _fmt('"lead_source":"{}"', "lead_source"),
                _fmt('"trial_path":"{}"', "trial_path"),
                _fmt('"is_secondary":{}', pl.when("secondary").then(pl.lit("true")).otherwise(pl.lit("false"))),
            ], separator=",", ignore_nulls=True), pl.lit("}")]),
            ref_kind=pl.lit("form"), ref="ref"))
        sales = f.filter(pl.col("trial_path") == "sales_assisted")
        if sales.height:
            rows.append(sales.select("session_row", seq=pl.lit(1, pl.Int32), event_type=pl.lit("contact_sales_clicked"),
                                     event_properties=pl.lit('{"trial_path":"sales_assisted","location":"trial_signup"}'),
                                     ref_kind=pl.lit(None, pl.String), ref=pl.lit(None, pl.Int64)))
    if outs is not None:
        bound = np.flatnonzero(outs["session"] >= 0)
        if len(bound):
            kind = outs["kind"][bound]
            sku = outs["sku"][bound]
            o = pl.DataFrame({
                "session_row": outs["session"][bound].astype(np.int64), "ref": bound.astype(np.int64), "kind": kind,
                "sku": _gather(m.skus, sku), "name": _gather(m.product_names, sku),
                "amount": outs["amount"][bound] / 100.0, "interval": np.where(outs["annual"][bound], "year", "month"),
                "conversion_day": (outs["day"][bound] - outs["form_day"][bound]).astype(np.int64),
            })
            purchase = _fmt('{"product_sku":"{}","product_name":"{}","amount":{},"billing_interval":"{}","currency":"USD"}',
                                 "sku", "name", pl.col("amount").round(2), "interval")
            cart = _fmt('{"product_sku":"{}","product_name":"{}","amount":{}}', "sku", "name", pl.col("amount").round(2))
            direct = o.filter(pl.col("kind") == 3)
            for seq, event, props, ref in ((0, "add_to_cart", cart, False), (1, "checkout_start", cart, False), (2, "purchase", purchase, True)):
                rows.append(direct.select("session_row", seq=pl.lit(seq, pl.Int32), event_type=pl.lit(event), event_properties=props,
                                          ref_kind=pl.lit("outcome" if ref else None, pl.String), ref=pl.col("ref") if ref else pl.lit(None, pl.Int64)))
            upgrade = o.filter(pl.col("kind") == 0)
            converted = _fmt('{"trial_path":"self_service","product_sku":"{}","conversion_day":{}}', "sku", "conversion_day")
            for seq, event, props, ref in ((0, "upgrade_button_clicked", _fmt('{"trial_path":"self_service","product_sku":"{}"}', "sku"), False),
                                           (1, "checkout_start", cart, False), (2, "purchase", purchase, False),
                                           (3, "trial_converted", converted, True)):
                rows.append(upgrade.select("session_row", seq=pl.lit(seq, pl.Int32), event_type=pl.lit(event), event_properties=props,
                                           ref_kind=pl.lit("outcome" if ref else None, pl.String), ref=pl.col("ref") if ref else pl.lit(None, pl.Int64)))
    return pl.concat([r.cast(schema) for r in rows]) if rows else pl.DataFrame(schema=schema)


def _server_events(m: _Model, day_ms: int, outs: dict, oid: pl.DataFrame) -> pl.DataFrame | None:
    """Outcomes that happen outside a session: sales-closed conversions and trial expiries."""
    free = np.flatnonzero(outs["session"] < 0)
    if not len(free):
        return None
    kind = outs["kind"][free]
    sku = outs["sku"][free]
    o = pl.DataFrame({
        "ref": free.astype(np.int64), "kind": kind, "device_id": oid["device_id"].gather(free), "user_id": oid["email"].gather(free),
        "time": day_ms + outs["tod"][free].astype(np.int64) * 1000,
        "trial_path": _gather(m.path_names, outs["path"][free]), "form_type": _gather(m.form_names, outs["form"][free]),
        "sku": _gather(m.skus, sku), "name": _gather(m.product_names, sku), "amount": outs["amount"][free] / 100.0,
        "interval": np.where(outs["annual"][free], "year", "month"),
        "conversion_day": (outs["day"][free] - outs["form_day"][free]).astype(np.int64),
        "country": _gather(m.country_names, outs["country"][free]), "os_name": _gather(m.browser_names, outs["browser"][free]),
    })
    purchase = _fmt('{"product_sku":"{}","product_name":"{}","amount":{},"billing_interval":"{}","currency":"USD","channel":"sales"}',
                         "sku", "name", pl.col("amount").round(2), "interval")
    parts = []
    conv = o.filter(pl.col("kind") == 0)
    parts.append(conv.select("ref", "device_id", "user_id", "time", "country", "os_name", seq=pl.lit(0), event_type=pl.lit("purchase"), event_properties=purchase))
    parts.append(conv.select("ref", "device_id", "user_id", "time", "country", "os_name", seq=pl.lit(1), event_type=pl.lit("trial_converted"),
                             event_properties=_fmt('{"trial_path":"{}","product_sku":"{}","conversion_day":{}}', "trial_path", "sku", "conversion_day")))
    exp = o.filter(pl.col("kind") == 1)
    parts.append(exp.select("ref", "device_id", "user_id", "time", "country", "os_name", seq=pl.lit(0), event_type=pl.lit("trial_expired"),
                            event_properties=_fmt('{"trial_path":"{}","trial_days":{}}', "trial_path", pl.lit(m.trial_days))))
    form = o.filter(pl.col("kind") == 2)
    parts.append(form.select("ref", "device_id", "user_id", "time", "country", "os_name", seq=pl.lit(0), event_type=pl.lit("purchase"),
                             event_properties=_fmt('{"product_sku":"{}","product_name":"{}","amount":{},"billing_interval":"{}","currency":"USD","channel":"sales","source_form_type":"{}"}',
                                                        "sku", "name", pl.col("amount").round(2), "interval", "form_type")))
    return pl.concat([p.with_columns(pl.col("seq").cast(pl.Int32)) for p in parts])


def _cohort_truth(m: _Model, seed: int, plan: CohortPlan, cohort: date) -> dict[str, pl.DataFrame]:
    """The whole planned journey of the cohort that arrived on ``cohort`` (for validation)."""
    arrival = (cohort - plan.first_day).days
    mine = plan.people["arrival"] == arrival
    s = {k: v[mine[plan.sessions["person"]]] for k, v in plan.sessions.items()}
    f = {k: v[mine[plan.forms["person"]]] for k, v in plan.forms.items()}
    cord = plan.first_day.toordinal()
    pid = pl.Series(plan.people["index"][s["person"]].astype(np.int64)).cast(pl.String).str.zfill(6)
    prefix = f"p{cohort:%Y%m%d}-"
    cohort_sessions = pl.DataFrame({
        "person_id": prefix + pid,
        "population": _gather(list(POPULATIONS), s["pop"].astype(np.int32)),
        "session_number": s["k"], "day": _dates(s["day"], np.full(len(s["day"]), cord)),
        "engagement_tier": pl.Series(m.tier_names).gather(s["tier"]), "engagement_score": s["score"],
        "campaign_targeting": _gather(m.campaign_targeting, s["campaign"]),
        "campaign_name": _gather(m.campaign_names, s["campaign"]),
        "identified_before": s["identified_before"], "form_type": _gather(m.form_names, s["form"]),
        "direct_purchase": s["direct"], "returns": s["returns"],
        "next_session_on": _dates(s["next_day"], np.full(len(s["day"]), cord)),
    })
    fp = pl.Series(plan.people["index"][f["person"]].astype(np.int64)).cast(pl.String).str.zfill(6)
    fc = np.full(len(f["day"]), cord)
    cohort_forms = pl.DataFrame({
        "person_id": prefix + fp, "form_type": _gather(m.form_names, f["form"]), "is_secondary": f["secondary"],
        "day": _dates(f["day"], fc), "trial_path": _gather(m.path_names, f["path"]), "converts": f["converts"],
        "converts_on": _dates(f["converts_on"], fc), "outcome_on": _dates(f["outcome_on"], fc),
        "sku": _gather(m.skus, f["sku"]),
        "billing_interval": _gather(["month", "year"], np.where(f["converts"], f["annual"].astype(np.int32), -1)),
        "amount_cents": pl.Series(f["amount"]).set(pl.Series(~f["converts"]), None),
    })
    return {"cohort_sessions": cohort_sessions, "cohort_forms": cohort_forms}


def cohort_truth(config: SaasConfig, *, seed: int, cohort: date, scale: float = 1.0) -> dict[str, pl.DataFrame]:
    """The planned journeys of one cohort (``cohort_sessions``, ``cohort_forms``) without generating a day."""
    m = _model(config)
    return _cohort_truth(m, int(seed), _plan_cached(m, int(seed), _block_of(cohort), float(scale)), cohort)


def expected_daily_volumes(config: SaasConfig, scale: float = 1.0) -> dict[str, float]:
    """Steady-state expectations the simulation is sized by (for docs and benchmarks)."""
    m = _model(config)
    regulars = m.regular_count(scale)
    return {
        "new_users": m.new_per_day * scale,
        "prospect_sessions": m.new_per_day * m.expected_sessions_per_prospect * scale,
        "regular_visitors": regulars,
        "regular_sessions": regulars * float(np.mean(1.0 / REGULAR_PERIODS)),
        "sessions": m.sessions_per_day * scale,
    }


def clear_caches() -> None:
    """Forget cached cohort plans and visitor bases (for cold-start measurements)."""
    _plan_cached.cache_clear()
    _regulars.cache_clear()
