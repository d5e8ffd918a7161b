"""The SaaS journey simulation: one day of sessions, Amplitude events, form fills, outcomes and ad rows.

``simulate_saas_day(config, seed=..., day=...)`` returns a :class:`SaasDay` whose frames follow
``saas_schema`` (sessions, form fills, outcomes), ``saas_amplitude.EVENTS`` (events) and
``saas_ads`` (ad rows). Every number of the world comes from ``SaasConfig``; the few
behaviours the configuration does not describe are the module constants below.

Volumes (seed 000's "Expected Data Volumes")
---------------------------------------------
At full scale a day has ~75K sessions and ~8K first-time visitors, and the funnel lands on
seed 000's yearly figures: ~225 form fills a day (~83K a year: trial 35%, demo 25%, ...), ~79
trials (~29K), ~35 new paying customers (~12.9K: self-service ~5.2K, sales-assisted ~4.5K,
other forms ~2.1K, anonymous direct purchases ~1K), 27 bought leads (~10K) and ~970 CRM
activities (~355K). ``expected_daily_volumes`` computes these exactly from the configuration
(see ``_Model.journey_expectations``) and a test holds them, and a few simulated weeks, to the
seed. How the configuration gets there, with seed 001's per-tier form probabilities (0 / 0.05 /
0.20 / 0.45 / 0.70) and return probabilities (bounce 8% ... very high 75%) kept as they are:

* new visitors' sessions are bounce-heavy (``saas_engagement_tiers.csv`` ``share``: 86% bounce,
  8.5% low, 3.5% medium, 1.4% high, 0.6% very high), as paid and organic acquisition traffic
  is: ~2.7% of them fill a form, ~2.9% counting secondary forms: ~229 a day. (Seed 000 also
  calls its ~82K form fills "25% of new users", which its own ~2.9M new users contradict: 2.8%;
  the absolute figures win. A 30%-bounce mix made ~25% of new visitors fill a form: ~2.2K forms
  a day, ten times the seed);
* established visitors (below) keep an engaged mix (``established_share``: logged-in
  customers and loyal readers); they never fill forms, so their mix only shapes browsing;
* ``direct_purchase_probability`` (2.8% of anonymous high-engagement sessions) gives seed 000's
  ~1K anonymous conversions a year (~97 such sessions a day).

How a day arises (deterministic and incremental)
-------------------------------------------------
Two populations visit the site and product:

* **Prospects** arrive in daily cohorts (Poisson with mean ``new_users_per_day * scale``).
  Cohorts are planned in fixed calendar blocks of ``BLOCK_DAYS`` arrival days (block =
  date ordinal // BLOCK_DAYS): a block's whole journeys are a pure function of
  ``(seed, block)``, vectorised over its people (loop over session draw k): each session's engagement tier
  (the tier's ``share``; a returning session keeps the previous tier with probability
  ``ENGAGEMENT_PERSISTENCE``), a form fill (first form: the tier's ``form_probability``;
  identified people ``secondary_form_probability``; never in a tier whose ``form_probability``
  is 0, i.e. a bounce), a rare anonymous direct purchase (``direct_purchase_probability`` on
  high-engagement anonymous sessions), and whether the person comes back (the tier's
  ``return_probability``) after a geometric gap of days (mean ``1 / RETURN_GAP_P``). The
  journey is cut at ``JOURNEY_HORIZON_DAYS`` after arrival (the chance of still being on
  it then is ~0.1%). Each form fill's future is planned with it: trial path, conversion
  (rate, day ~ N(avg, sd) clipped to ``TRIAL_CONVERSION_WINDOW``) or expiry at
  ``trial_days``, non-trial forms converting at ``paid_conversion_rate`` a few days after
  their CRM cadence ends, SKU by the path's tier mix, billing interval, amount.
  Self-service conversions happen in a product session on the conversion day (login,
  upgrade, checkout, purchase); sales-assisted and form conversions and expiries are
  server-side events. A plan keeps only what the journeys' course depends on; a session's
  details (time of day, score, page views, traffic source, campaign: re-engagement campaigns,
  targeting ``returning_users``, only from the second session on) and a person's (name,
  company, country, browser, device) are hashed from (seed, person, session draw) when a day
  or a cohort's truth needs them (``_session_details`` / ``_person_details``).
* **Established visitors** ("regulars"): people who arrived before ``world_start`` —
  customers' team members who log in to the product and loyal readers. They come back
  about every 1-7 days (one visit in each window of their period, on a hashed day), so
  their sessions on any day are a pure function of ``(seed, day)``. Their number is sized
  so that prospects + regulars make ``sessions_per_day`` at steady state. They never fill
  forms or buy (their journeys ended before the world began). They are needed because the
  tiers' return probabilities cap a prospect at ~1.15 sessions on average (most bounce),
  i.e. ~9K of the 75K daily sessions; the return-probability checks are about the
  prospects' journeys (``truth["cohort_sessions"]``), where they hold.

Day D = the sessions, forms and outcomes of cohorts arriving in ``[D - window, D]`` that
fall on D, plus D's regulars. Block plans are cached (LRU, 32 blocks), so consecutive days
plan a new block once every BLOCK_DAYS days; a cold day plans the ~11 live blocks. Event-level
details (event times, page paths, clicks, insert ids, ad noise) are seeded by ``(seed, D)``.
Independent parts of a day (the regulars' sessions, the cohort truth, the events' insert ids)
run on a second thread (``saas_amplitude.InBackground``: numpy and polars release the GIL), so
a day uses both cores of a 2-core machine; every part is a pure function of its inputs, so
the frames are the same whatever the timing.
The prospect journeys start at ``world_start`` (the first cohort arrives that day), so
returning prospect traffic ramps up over the first weeks; regulars are there from day one.
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
from funnel_assets.lib.synthetic.rng import fmt as _fmt, hash64, hash_uniforms, hashed_uuids, rng_for
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
MOBILE_SHARE = 0.3
"""Share of people browsing on a phone."""
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
        self.regular_tier_cum = _cum(tiers["established_share"].to_numpy())
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
        self.hour_lo = np.r_[0.0, self.hour_cum[:-1]]
        self.secondary_p_by_tier = np.where(self.no_form, 0.0, self.secondary_p)

        # how far back a cohort can still produce something on a day
        lo, hi = TRIAL_CONVERSION_WINDOW
        self.window = JOURNEY_HORIZON_DAYS + max(hi, self.trial_days, int(self.form_delay.max()) + FORM_CONVERSION_EXTRA_DAYS)
        self.expected_sessions_per_prospect = self._expected_sessions()
        self._journey: dict | None = None

    def _expected_sessions(self) -> float:
        """Sessions per prospect under the tier chain (ignoring the horizon cut, ~0.1%)."""
        r, s, rho = self.return_p, self.tier_share, ENGAGEMENT_PERSISTENCE
        a = float(np.sum(s * r / (1 - r * rho)))
        return 1.0 + a / (1 - (1 - rho) * a)

    def journey_expectations(self) -> dict[str, np.ndarray | float]:
        """Per new visitor: expected sessions, form fills by type (first / secondary), trials, direct purchases.

        Exact expectations of the planning rules in ``_plan_cached`` (the horizon cut aside, ~0.1%):
        the probability mass of a journey still going at session k, by (tier, identified before,
        had a trial), pushed through one session at a time until it vanishes.
        """
        if self._journey is not None:
            return self._journey
        n_t, n_f = len(self.tier_names), len(self.form_names)
        form_w = np.diff(np.r_[0.0, self.form_cum])  # first-draw form mix
        after_trial = np.zeros(n_f)  # a person who had a trial redraws a trial among the other forms
        after_trial[self.nontrial_forms] = np.diff(np.r_[0.0, self.nontrial_cum])
        mix = np.stack([form_w, after_trial])  # [had_trial, form]
        p_form = np.stack([self.form_p, np.full(n_t, self.secondary_p)], axis=1)  # [tier, identified]
        p_form[self.no_form] = 0.0
        mass = np.zeros((n_t, 2, 2))  # [tier, identified, had_trial]
        mass[:, 0, 0] = self.tier_share
        sessions = direct = 0.0
        forms = np.zeros((2, n_f))  # [secondary, form]
        k = 0
        while mass.sum() > 1e-12 and k < _MAX_SESSIONS:
            k += 1
            filled = mass * p_form[:, :, None]
            sessions += mass.sum()
            by_form = filled.sum(axis=0)[:, :, None] * mix[None, :, :]  # [identified, had_trial, form]
            forms += by_form.sum(axis=1)
            direct += (mass - filled)[self.high, 0, :].sum() * self.direct_p
            after = mass - filled
            trial_share = mix[0, self.trial_form]
            f_by_tier = filled.sum(axis=1)  # [tier, had_trial]
            after[:, 1, 0] += f_by_tier[:, 0] * (1 - trial_share)
            after[:, 1, 1] += f_by_tier[:, 0] * trial_share + f_by_tier[:, 1]
            back = after * self.return_p[:, None, None]
            mass = ENGAGEMENT_PERSISTENCE * back + (1 - ENGAGEMENT_PERSISTENCE) * self.tier_share[:, None, None] * back.sum(axis=0)[None]
        self._journey = {"sessions": sessions, "first_forms": forms[0], "secondary_forms": forms[1],
                         "trials": float(forms[:, self.trial_form].sum()), "direct": direct}
        return self._journey

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
    ``people["index"]`` their number within their cohort.

    Sessions hold what the journey's course depends on (tier, form, identification, direct
    purchase, return); their details (time of day, score, page views, source, campaign) and the
    people's (name, company, country, browser, device) are pure functions of the person and the
    session's draw number ``k`` (``_session_details`` / ``_person_details``), computed only for the
    rows a day needs. ``k`` is the journey's session draw (1, 2, ...; 0 for the product session of
    a self-service conversion); ``number`` the session's rank among the person's sessions."""

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


def _seconds_of_day(m: _Model, u: np.ndarray) -> np.ndarray:
    """A second of the day by ``HOUR_WEIGHTS`` from one uniform (the hour, then the position within it)."""
    hour = _choose(m.hour_cum, u)
    lo = m.hour_lo[hour]
    within = np.minimum(np.floor((u - lo) / (m.hour_cum[hour] - lo) * 3600), 3599)
    return (hour * 3600 + within.astype(np.int32)).astype(np.int32)


def _campaigns(m: _Model, source: np.ndarray, u: np.ndarray, returning: np.ndarray | bool) -> np.ndarray:
    """The paid campaign of sessions (-1 for unpaid sources or ``source`` -1); re-engagement only when ``returning``."""
    out = np.full(len(source), -1, dtype=np.int32)
    if not len(source):
        return out
    platform = np.where(source >= 0, m.source_platform[np.maximum(source, 0)], -1)
    returning = np.broadcast_to(np.asarray(returning), len(source))
    for (p, ret), (idx, cum) in m.campaign_choice.items():
        sel = np.flatnonzero((platform == p) & (returning == ret))
        if len(sel):
            out[sel] = idx[_choose(cum, u[sel])]
    return out


def _person_key(cohort_ordinal: np.ndarray, index: np.ndarray) -> np.ndarray:
    """One int64 per prospect: (arrival day, number within the cohort)."""
    return cohort_ordinal.astype(np.int64) * (1 << 24) + index.astype(np.int64)


def _session_details(m: _Model, seed: int, key: np.ndarray, k: np.ndarray, tier: np.ndarray, pop: np.ndarray) -> dict[str, np.ndarray]:
    """Time of day, score, page views, source and campaign of prospect sessions.

    A pure function of (seed, person key, draw k, tier): the same session gets the same details
    whichever day or cohort truth asks. Product sessions (``pop`` 2) have no source or campaign.
    """
    u = hash_uniforms(seed, 5, "saas-session", key, k.astype(np.int64))
    score = np.round(m.tier_lo[tier] + u[0] * (m.tier_hi[tier] - m.tier_lo[tier]), 1)
    source = np.where(pop == POP_PRODUCT, -1, _choose(m.source_cum, u[3])).astype(np.int32)
    return {
        "tod": _seconds_of_day(m, u[1]), "score": score, "pv": _page_views(m, tier, score, u[2]),
        "source": source, "campaign": _campaigns(m, source, u[4], k > 1),
    }


def _person_details(m: _Model, seed: int, key: np.ndarray) -> dict[str, np.ndarray]:
    """Name, company, country, browser and device of prospects: a pure function of (seed, person key)."""
    u = hash_uniforms(seed, 6, "saas-person", key)
    names = _name_tables()
    return {
        "first": (u[0] * len(names["first"])).astype(np.int32),
        "last": (u[1] * len(names["last"])).astype(np.int32),
        "company": (u[2] * len(names["company"])).astype(np.int32),
        "country": _choose(m.country_cum, u[3]),
        "browser": _choose(m.browser_cum, u[4]),
        "mobile": u[5] < MOBILE_SHARE,
    }


def _block_of(cohort: date) -> int:
    return cohort.toordinal() // BLOCK_DAYS


def _by_day(day: np.ndarray) -> np.ndarray:
    """Stable order by a small day offset (a radix sort on 16 bits)."""
    return np.argsort(day.astype(np.int16), kind="stable")


@lru_cache(maxsize=32)
def _plan_cached(m: _Model, seed: int, block: int, scale: float) -> CohortPlan:
    """The journeys of the cohorts arriving on the BLOCK_DAYS days of ``block``: a pure function of (seed, block)."""
    first_day = date.fromordinal(block * BLOCK_DAYS)
    rng = rng_for(seed, "saas-cohort-block", block)
    sizes = rng.poisson(m.new_per_day * scale, BLOCK_DAYS) if scale > 0 else np.zeros(BLOCK_DAYS, np.int64)
    n = int(sizes.sum())
    arrival = np.repeat(np.arange(BLOCK_DAYS, dtype=np.int32), sizes)
    index = (np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)).astype(np.int32)
    people = {"arrival": arrival, "index": index}

    # the journeys, one session draw k at a time over the people still on theirs
    identified = np.zeros(n, dtype=bool)
    had_trial = np.zeros(n, dtype=bool)
    names = ("person", "k", "day", "tier", "form", "identified_before", "direct", "returns", "next_day")
    cols: dict[str, list[np.ndarray]] = {name: [] for name in names}
    active = np.arange(n, dtype=np.int32)
    day = np.zeros(n, dtype=np.int32)
    prev = np.zeros(n, dtype=np.int32)
    inv_gap = 1.0 / np.log1p(-RETURN_GAP_P)
    k = 1
    while active.size and k <= _MAX_SESSIONS:
        size = active.size
        u = rng.random((6, size))
        tier = _choose(m.tier_cum, u[0])
        if k > 1:
            keep = u[1] < ENGAGEMENT_PERSISTENCE
            tier[keep] = prev[keep]
        before = identified[active]
        fill = u[2] < np.where(before, m.secondary_p_by_tier[tier], m.form_p[tier])
        form = np.full(size, -1, dtype=np.int32)
        fi = np.flatnonzero(fill)
        if len(fi):
            fu = rng.random((2, len(fi)))
            kind = _choose(m.form_cum, fu[0])
            redo = np.flatnonzero(had_trial[active[fi]] & (kind == m.trial_form))
            if len(redo):  # one trial per person: a secondary form is then another type
                kind[redo] = m.nontrial_forms[_choose(m.nontrial_cum, fu[1, redo])]
            form[fi] = kind
            identified[active[fi]] = True
            had_trial[active[fi[kind == m.trial_form]]] = True
        direct = ~before & ~fill & m.high[tier] & (u[3] < m.direct_p)
        returns = u[4] < m.return_p[tier]
        back = np.flatnonzero(returns)
        nxt = day[back] + 1 + np.floor(np.log1p(-u[5, back]) * inv_gap).astype(np.int32)
        ok = nxt <= JOURNEY_HORIZON_DAYS
        returns[back[~ok]] = False
        back, nxt = back[ok], nxt[ok]
        next_day = np.full(size, -1, dtype=np.int32)
        next_day[back] = nxt
        for name, value in (("person", active), ("k", np.full(size, k, np.int32)), ("day", day), ("tier", tier), ("form", form),
                            ("identified_before", before), ("direct", direct), ("returns", returns), ("next_day", next_day)):
            cols[name].append(value)
        active, day, prev = active[back], nxt, tier[back]
        k += 1
    flags = ("identified_before", "direct", "returns")
    sess = {name: np.concatenate(parts) if parts else np.zeros(0, bool if name in flags else np.int32) for name, parts in cols.items()}
    ns = len(sess["person"])
    # days were counted from each person's arrival; from here on they count from the block's first day
    arrived = arrival[sess["person"]]
    sess["day"] += arrived
    sess["next_day"] = np.where(sess["next_day"] >= 0, sess["next_day"] + arrived, -1).astype(np.int32)
    sess["pop"] = np.zeros(ns, dtype=np.int8)

    # forms and their planned futures
    fi = np.flatnonzero(sess["form"] >= 0)
    nf = len(fi)
    fu = rng.random((5, nf))
    z = rng.standard_normal(nf)
    ftype = sess["form"][fi]
    fday = sess["day"][fi]
    is_trial = ftype == m.trial_form
    path = np.where(is_trial, _choose(m.path_cum, fu[0]), -1).astype(np.int32)
    pidx = np.maximum(path, 0)
    converts = np.where(is_trial, fu[1] < m.path_conv[pidx], fu[1] < m.form_rate[ftype])
    lo, hi = TRIAL_CONVERSION_WINDOW
    trial_conv_day = np.clip(np.rint(m.path_avg[pidx] + m.path_sd[pidx] * z), lo, hi).astype(np.int32)
    other_delay = m.form_delay[ftype] + 1 + np.floor(fu[4] * FORM_CONVERSION_EXTRA_DAYS).astype(np.int32)
    converts_on = np.where(converts, fday + np.where(is_trial, trial_conv_day, other_delay), -1).astype(np.int32)
    outcome_on = np.where(is_trial & ~converts, fday + m.trial_days, converts_on).astype(np.int32)
    mix = np.where(is_trial, pidx, np.where(m.form_sales_touched[ftype], m.sales_assisted, m.self_service))
    sku = np.where(converts, _choose_rows(m.path_tier_cum[mix], fu[2]), -1).astype(np.int32)
    annual = converts & (fu[3] < m.annual_share)
    ssku = np.maximum(sku, 0)
    amount = np.where(converts, np.where(annual, m.price_annual[ssku], m.price_monthly[ssku]), 0)
    forms = {"person": sess["person"][fi], "session": fi.astype(np.int32), "form": ftype, "day": fday,
             "secondary": sess["identified_before"][fi], "path": path, "converts": converts, "converts_on": converts_on,
             "outcome_on": outcome_on, "sku": sku, "annual": annual, "amount": amount.astype(np.int64)}

    # self-service conversions happen in a product session on the conversion day
    ss = np.flatnonzero(is_trial & converts & (path == m.self_service))
    npd = len(ss)
    pperson = forms["person"][ss]
    product = {
        "person": pperson, "k": np.zeros(npd, np.int32), "day": converts_on[ss], "tier": np.full(npd, m.top_tier, np.int32),
        "form": np.full(npd, -1, np.int32), "identified_before": np.ones(npd, bool), "direct": np.zeros(npd, bool),
        "returns": np.zeros(npd, bool), "next_day": np.full(npd, -1, np.int32), "pop": np.full(npd, POP_PRODUCT, np.int8),
    }

    # session numbers: a journey's draws are in day order; a product session (at most one per
    # person) slots in among them by (day, time of day), a journey session first on a tie
    number = sess["k"].copy()
    pnumber = np.ones(npd, np.int32)
    if npd:
        prod_of = np.full(n, -1, np.int64)
        prod_of[pperson] = np.arange(npd)
        mine = np.flatnonzero(prod_of[sess["person"]] >= 0)
        q = prod_of[sess["person"][mine]]
        jday, pday = sess["day"][mine], product["day"][q]
        earlier = jday < pday
        tie = np.flatnonzero(jday == pday)
        if len(tie):
            key = _person_key(first_day.toordinal() + arrival[sess["person"][mine[tie]]], index[sess["person"][mine[tie]]])
            jt = _session_details(m, seed, key, sess["k"][mine[tie]], sess["tier"][mine[tie]], sess["pop"][mine[tie]])["tod"]
            pt = _session_details(m, seed, key, np.zeros(len(tie), np.int32), product["tier"][q[tie]], product["pop"][q[tie]])["tod"]
            earlier[tie] = jt <= pt
        pnumber += np.bincount(q[earlier], minlength=npd).astype(np.int32)
        number[mine[~earlier]] += 1
    sess = {name: np.concatenate([sess[name], product[name]]) for name in sess}
    sess["number"] = np.concatenate([number, pnumber])

    # outcomes: trial results, form conversions, direct purchases
    di = np.flatnonzero(sess["direct"])
    nd = len(di)
    du = rng.random((2, nd))
    dsku = _choose_rows(m.path_tier_cum[np.full(nd, m.self_service)], du[0])
    dannual = du[1] < m.annual_share
    trial_rows = np.flatnonzero(is_trial)
    conv_rows = np.flatnonzero(~is_trial & converts)
    product_session = np.full(nf, -1, np.int32)
    product_session[ss] = ns + np.arange(npd, dtype=np.int32)
    kind = np.concatenate([np.where(converts[trial_rows], 0, 1), np.full(len(conv_rows), 2), np.full(nd, 3)]).astype(np.int8)
    outs = {
        "kind": kind,
        "form_ref": np.concatenate([trial_rows, conv_rows, np.full(nd, -1)]).astype(np.int32),
        "person": np.concatenate([forms["person"][trial_rows], forms["person"][conv_rows], sess["person"][di]]).astype(np.int32),
        "day": np.concatenate([outcome_on[trial_rows], converts_on[conv_rows], sess["day"][di]]).astype(np.int32),
        "session": np.concatenate([product_session[trial_rows], np.full(len(conv_rows), -1), di]).astype(np.int32),
        "tod": _seconds_of_day(m, rng.random(len(kind))),
        "sku": np.concatenate([sku[trial_rows], sku[conv_rows], dsku]).astype(np.int32),
        "annual": np.concatenate([annual[trial_rows], annual[conv_rows], dannual]),
    }
    osku = np.maximum(outs["sku"], 0)
    outs["amount"] = np.where(outs["sku"] >= 0, np.where(outs["annual"], m.price_annual[osku], m.price_monthly[osku]), 0).astype(np.int64)

    # everything by day
    by_day = _by_day(sess["day"])
    new_pos = np.empty_like(by_day)
    new_pos[by_day] = np.arange(len(by_day))
    sess = {name: value[by_day] for name, value in sess.items()}
    forms["session"] = new_pos[forms["session"]].astype(np.int32)
    outs["session"] = np.where(outs["session"] >= 0, new_pos[np.maximum(outs["session"], 0)], -1).astype(np.int32)
    fo = _by_day(forms["day"])
    fpos = np.empty_like(fo)
    fpos[fo] = np.arange(len(fo))
    forms = {name: value[fo] for name, value in forms.items()}
    outs["form_ref"] = np.where(outs["form_ref"] >= 0, fpos[np.maximum(outs["form_ref"], 0)], -1).astype(np.int32)
    oo = _by_day(outs["day"])
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
def _regulars(m: _Model, seed: int, scale: float) -> dict:
    """The established visitors of (seed, scale): visit rhythm, identity (a frame, built once) and device."""
    n = m.regular_count(scale)
    rng = rng_for(seed, "saas-regulars")
    u = rng.random((10, n))
    names = _name_tables()
    period = REGULAR_PERIODS[(u[0] * len(REGULAR_PERIODS)).astype(np.int64)]
    first = (u[4] * len(names["first"])).astype(np.int32)
    last = (u[5] * len(names["last"])).astype(np.int32)
    company = (u[6] * len(names["company"])).astype(np.int32)
    person = np.arange(n, dtype=np.int64)
    pstr = pl.Series(person).cast(pl.String).str.zfill(6)
    identity = pl.DataFrame({
        "pstr": pstr, "fl": names["first_lower"].gather(first), "ll": names["last_lower"].gather(last),
        "domain": names["domain"].gather(company), "first_name": names["first"].gather(first),
        "last_name": names["last"].gather(last), "company": names["company"].gather(company),
        "device_id": _device_ids(seed, (1 << 50) + person),
    }).select(
        person_id=_fmt("r{}", "pstr"), device_id="device_id", email=_fmt("{}.{}.r{}@{}", "fl", "ll", "pstr", "domain"),
        first_name="first_name", last_name="last_name", company="company",
    )
    return {
        "period": period.astype(np.int64),
        "phase": np.floor(u[1] * period).astype(np.int64),
        "initial": (2 + np.floor(np.log1p(-u[2]) / np.log1p(-0.05))).astype(np.int64),
        "identified": u[3] < REGULAR_IDENTIFIED_SHARE,
        "country": _choose(m.country_cum, u[7]),
        "browser": _choose(m.browser_cum, u[8]),
        "mobile": u[9] < MOBILE_SHARE,
        "identity": identity,
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
    u = rng.random((6, size))
    tier = _choose(m.regular_tier_cum, u[0])
    score = np.round(m.tier_lo[tier] + u[1] * (m.tier_hi[tier] - m.tier_lo[tier]), 1)
    source = _choose(m.source_cum, u[3])
    return {
        "person": idx.astype(np.int32), "number": number.astype(np.int32),
        "tod": _seconds_of_day(m, u[2]), "tier": tier, "score": score, "pv": _page_views(m, tier, score, u[5]),
        "source": source, "campaign": _campaigns(m, source, u[4], True),
        "identified_before": reg["identified"][idx],
        "country": reg["country"][idx], "browser": reg["browser"][idx], "mobile": reg["mobile"][idx],
    }


# ---- identities ---------------------------------------------------------------------------------
def _device_ids(seed: int, key: np.ndarray) -> pl.Series:
    return hashed_uuids(seed, "saas-device", key)


def _prospect_identities(seed: int, cohort_ordinal: np.ndarray, index: np.ndarray, person: dict[str, np.ndarray]) -> pl.DataFrame:
    """person_id, device_id, email, names and company of prospects (``person``: ``_person_details``)."""
    names = _name_tables()
    first, last, company = person["first"], person["last"], person["company"]
    cohort = cohort_ordinal.astype(np.int64)
    frame = pl.DataFrame({
        "day_str": pl.Series(cohort - _EPOCH_ORDINAL).cast(pl.Int32).cast(pl.Date).dt.strftime("%Y%m%d"),
        "pstr": pl.Series(index.astype(np.int64)).cast(pl.String).str.zfill(6),
        "tag": pl.Series(cohort - 730000).cast(pl.String),
        "fl": names["first_lower"].gather(first), "ll": names["last_lower"].gather(last), "domain": names["domain"].gather(company),
        "first_name": names["first"].gather(first), "last_name": names["last"].gather(last), "company": names["company"].gather(company),
        "device_id": _device_ids(seed, _person_key(cohort, index)),
    })
    return frame.select(
        person_id=_fmt("p{}-{}", "day_str", "pstr"), device_id="device_id",
        email=_fmt("{}.{}{}{}@{}", "fl", "ll", "tag", "pstr", "domain"),
        first_name="first_name", last_name="last_name", company="company",
    )


def _order(*keys: np.ndarray) -> np.ndarray:
    """The order sorting by ``keys`` (non-negative ints, most significant first), ties by position.

    One packed int64 sorted by value (then the position read back from its low bits) is several
    times faster than ``np.lexsort`` or a stable argsort; falls back to ``np.lexsort`` when the
    keys do not fit in 63 bits.
    """
    n = len(keys[0])
    widths = [max(int(k.max()), 0).bit_length() if n else 0 for k in keys] + [max(n - 1, 0).bit_length()]
    if sum(widths) > 63:
        return np.lexsort((np.arange(n), *reversed(keys)))
    packed = np.zeros(n, dtype=np.int64)
    for key, width in zip((*keys, np.arange(n, dtype=np.int64)), widths):
        packed <<= width
        packed |= key
    packed.sort()
    return packed & ((1 << widths[-1]) - 1)


# ---- the day ------------------------------------------------------------------------------------
def _day_start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)


def _ms_to_utc(ms: pl.Series | np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(ms, dtype=np.int64) * 1000).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _dates(offsets: np.ndarray, base_ordinal: np.ndarray | int) -> pl.Series:
    """Dates base + offset; null where offset < 0."""
    days = np.where(offsets >= 0, base_ordinal + offsets - _EPOCH_ORDINAL, 0)
    return pl.Series(days.astype(np.int32)).cast(pl.Date).scatter(np.flatnonzero(offsets < 0), None) if (offsets < 0).any() \
        else pl.Series(days.astype(np.int32)).cast(pl.Date)


def _gather(values: list, idx: np.ndarray) -> pl.Series:
    """values[idx] as a String series, null where idx < 0."""
    series = pl.Series(values + [None], dtype=pl.String)
    return series.gather(np.where(idx >= 0, idx, len(values)))


def _cat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray] | None:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else None


def simulate_saas_day(config: SaasConfig, *, seed: int, day: date, scale: float = 1.0,
                      world_start: date = date(2025, 1, 1)) -> SaasDay:
    """One day of the SaaS world (see the module docstring). Deterministic in (seed, day, scale, world_start)."""
    if day < world_start:
        raise ValueError(f"day {day} is before world_start {world_start}")
    m = _model(config)
    seed, scale = int(seed), float(scale)
    ordinal = day.toordinal()

    # the established visitors' sessions (their base is built once per seed and scale) on the other core meanwhile
    _name_tables()  # (built here first: one Faker at a time)
    regular_sessions = saas_amplitude.InBackground(_regular_sessions, m, seed, day, scale, world_start)
    # the day's rows of every live block (prospects), then the regulars
    first_cohort = max(world_start, day - timedelta(days=m.window))
    ws_ord = world_start.toordinal()
    sess_parts: list[dict] = []
    form_parts: list[dict] = []
    out_parts: list[dict] = []
    row_offset = 0
    for block in range(_block_of(first_cohort), _block_of(day) + 1):
        plan = _plan_cached(m, seed, block, scale)
        base = plan.first_day.toordinal()
        arrival, index = plan.people["arrival"], plan.people["index"]
        d = ordinal - base
        s0, s1 = plan.session_start[d], plan.session_start[d + 1]
        f0, f1 = plan.form_start[d], plan.form_start[d + 1]
        o0, o1 = plan.outcome_start[d], plan.outcome_start[d + 1]
        # cohorts before world_start do not exist (a block may straddle it)
        s_keep = np.flatnonzero(base + arrival[plan.sessions["person"][s0:s1]] >= ws_ord)
        new_row = np.full(s1 - s0, -1, np.int64)
        new_row[s_keep] = row_offset + np.arange(len(s_keep))
        if len(s_keep):
            part = {k: v[s0:s1][s_keep] for k, v in plan.sessions.items()}
            person = part.pop("person")
            part["cohort"] = base + arrival[person].astype(np.int64)
            part["index"] = index[person]
            part["base"] = np.full(len(person), base, np.int64)
            sess_parts.append(part)
        f_keep = np.flatnonzero(base + arrival[plan.forms["person"][f0:f1]] >= ws_ord)
        if len(f_keep):
            part = {k: v[f0:f1][f_keep] for k, v in plan.forms.items()}
            part["session"] = new_row[part["session"] - s0]
            part["base"] = np.full(len(f_keep), base, np.int64)
            form_parts.append(part)
        o_keep = np.flatnonzero(base + arrival[plan.outcomes["person"][o0:o1]] >= ws_ord)
        if len(o_keep):
            part = {k: v[o0:o1][o_keep] for k, v in plan.outcomes.items()}
            bound = part["session"] >= 0
            mapped = np.full(len(bound), -1, dtype=np.int64)
            mapped[bound] = new_row[part["session"][bound] - s0]
            part["session"] = mapped
            part["base"] = np.full(len(o_keep), base, np.int64)
            ref = part.pop("form_ref")
            has = ref >= 0
            sref = np.maximum(ref, 0)
            part["form"] = np.where(has, plan.forms["form"][sref], -1)
            part["path"] = np.where(has, plan.forms["path"][sref], -1)
            part["form_day"] = np.where(has, plan.forms["day"][sref], d)
            person = part.pop("person")
            part["cohort"] = base + arrival[person].astype(np.int64)
            part["index"] = index[person]
            out_parts.append(part)
        row_offset += len(s_keep)
    pro = _cat(sess_parts)
    forms = _cat(form_parts)
    outs = _cat(out_parts)
    n_pro = row_offset
    if pro is None:  # no prospect on the day (a tiny scale)
        pro = {k: np.zeros(0, t) for k, t in (("cohort", np.int64), ("index", np.int32), ("k", np.int32), ("tier", np.int32),
                                               ("pop", np.int8), ("number", np.int32), ("identified_before", bool),
                                               ("direct", bool), ("returns", bool), ("next_day", np.int32), ("base", np.int64))}
    pkey = _person_key(pro["cohort"], pro["index"])
    pdet = _session_details(m, seed, pkey, pro["k"], pro["tier"], pro["pop"])
    pperson = _person_details(m, seed, pkey)
    pid = _prospect_identities(seed, pro["cohort"], pro["index"], pperson)
    # the validation truth of the cohort arriving today, meanwhile too (its block is planned by now)
    cohort = saas_amplitude.InBackground(_cohort_truth, m, seed, _plan_cached(m, seed, _block_of(day), scale), day)
    rs = regular_sessions.result()
    reg = _regulars(m, seed, scale)
    n_reg = len(rs["person"])

    # every session, in start order (ties: established visitors first, then by cohort and number)
    tod = np.concatenate([pdet["tod"], rs["tod"]])
    cohort_rank = np.concatenate([pro["cohort"] - (first_cohort.toordinal() - 1), np.zeros(n_reg, np.int64)])
    person_rank = np.concatenate([pro["index"], rs["person"]]).astype(np.int64)
    order = _order(tod.astype(np.int64), cohort_rank, person_rank)
    ns = len(order)
    pos = np.empty_like(order)
    pos[order] = np.arange(ns)

    def both(p: np.ndarray, r: np.ndarray) -> np.ndarray:
        return np.concatenate([p, r])[order]

    zeros_reg = np.zeros(n_reg, np.int32)
    sess = {
        "tod": tod[order], "tier": both(pro["tier"], rs["tier"]), "score": both(pdet["score"], rs["score"]),
        "pv": both(pdet["pv"], rs["pv"]), "source": both(pdet["source"], rs["source"]),
        "campaign": both(pdet["campaign"], rs["campaign"]), "number": both(pro["number"], rs["number"]),
        "identified_before": both(pro["identified_before"], rs["identified_before"]),
        "pop": both(pro["pop"], np.full(n_reg, POP_REGULAR, np.int8)),
        "direct": both(pro["direct"], np.zeros(n_reg, bool)), "returns": both(pro["returns"], np.ones(n_reg, bool)),
        "next_day": both(pro["next_day"], zeros_reg - 1), "base": both(pro["base"], np.zeros(n_reg, np.int64)),
        "country": both(pperson["country"], rs["country"]), "browser": both(pperson["browser"], rs["browser"]),
        "mobile": both(pperson["mobile"], rs["mobile"]),
    }
    # (one chunk: a gather from a multi-chunk frame is several times slower)
    ident = pl.concat([pid, reg["identity"][rs["person"]]], rechunk=True)[order]
    day_ms = _day_start_ms(day)
    start_ms = day_ms + sess["tod"].astype(np.int64) * 1000
    if forms is not None:
        form_person = forms["session"]  # the prospect row (before ordering): the person's identity row
        forms["session"] = pos[forms["session"]]
    if outs is not None:
        outs["session"] = np.where(outs["session"] >= 0, pos[np.maximum(outs["session"], 0)], -1)

    identified_after = sess["identified_before"].copy()
    session_form = np.full(ns, -1, np.int32)
    if forms is not None:
        identified_after[forms["session"]] = True
        session_form[forms["session"]] = forms["form"]
    source = sess["source"]
    campaign = sess["campaign"]
    sessions = pl.DataFrame({
        "session_id": start_ms,
        "person_id": ident["person_id"],
        "device_id": ident["device_id"],
        "user_id": ident["email"].set(pl.Series(~identified_after), None),
        "session_number": sess["number"].astype(np.int32),
        "is_returning": sess["number"] > 1,
        "started_at": _ms_to_utc(start_ms),
        "utm_source": _gather(m.source_names, source),
        "utm_medium": _gather(m.source_mediums, source),
        "campaign_id": pl.Series(np.where(campaign >= 0, m.campaign_ids[np.maximum(campaign, 0)], 0)).set(pl.Series(campaign < 0), None),
        "campaign_name": _gather(m.campaign_names, campaign),
        "platform": _gather(list(PLATFORMS), np.where(campaign >= 0, m.campaign_platform[np.maximum(campaign, 0)], -1)),
        "engagement_score": sess["score"],
        "engagement_tier": pl.Series(m.tier_names).gather(sess["tier"]),
        "page_views": sess["pv"].astype(np.int32),
    }, schema=SESSIONS)

    # form fills and outcomes need each person's identity
    if forms is not None:
        fid = pid[form_person]
    if outs is not None:
        okey = _person_key(outs["cohort"], outs["index"])
        operson = _person_details(m, seed, okey)
        outs.update({a: operson[a] for a in ("country", "browser")})
        oid = _prospect_identities(seed, outs["cohort"], outs["index"], operson)

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
    truth.update(cohort.result())
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
    index = plan.people["index"][s["person"]]
    det = _session_details(m, seed, _person_key(np.full(len(index), cohort.toordinal()), index), s["k"], s["tier"], s["pop"])
    pid = pl.Series(index.astype(np.int64)).cast(pl.String).str.zfill(6)
    prefix = f"p{cohort:%Y%m%d}-"
    cohort_sessions = pl.DataFrame({
        "person_id": prefix + pid,
        "population": _gather(list(POPULATIONS), s["pop"].astype(np.int32)),
        "session_number": s["number"], "day": _dates(s["day"], np.full(len(s["day"]), cord)),
        "engagement_tier": pl.Series(m.tier_names).gather(s["tier"]), "engagement_score": det["score"],
        "campaign_targeting": _gather(m.campaign_targeting, det["campaign"]),
        "campaign_name": _gather(m.campaign_names, det["campaign"]),
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
    """Steady-state daily expectations of the simulation (for docs, benchmarks and the calibration test).

    Traffic (``sessions``, ``new_users``, ...), the funnel (``form_fills`` and
    ``form_fills.<form_type>``, ``trials`` and ``trials.<path>``, ``paid`` and its parts
    ``paid.<path>`` / ``paid.other_forms`` / ``paid.direct``) and the CRM (``crm_leads``,
    ``purchased_leads``, ``crm_activities``: every template step's probability summed over the
    day's leads). Exact for the planning rules (``_Model.journey_expectations``); a day's counts
    are Poisson-like around them. Multiply by 365 for seed 000's yearly figures.
    """
    m = _model(config)
    regulars = m.regular_count(scale)
    j = m.journey_expectations()
    n = m.new_per_day * scale
    forms = (j["first_forms"] + j["secondary_forms"]) * n
    trials = j["trials"] * n
    path_w = np.diff(np.r_[0.0, m.path_cum])
    steps = dict(config.activity_templates.group_by("template").agg(pl.col("probability").sum()).rows())
    out = {
        "new_users": n,
        "prospect_sessions": n * m.expected_sessions_per_prospect,
        "regular_visitors": regulars,
        "regular_sessions": regulars * float(np.mean(1.0 / REGULAR_PERIODS)),
        "sessions": m.sessions_per_day * scale,
        "form_fills": float(forms.sum()),
        "secondary_form_fills": float(j["secondary_forms"].sum() * n),
        "trials": trials,
    }
    out.update({f"form_fills.{name}": float(forms[i]) for i, name in enumerate(m.form_names)})
    out.update({f"trials.{name}": trials * float(path_w[i]) for i, name in enumerate(m.path_names)})
    out.update({f"paid.{name}": trials * float(path_w[i] * m.path_conv[i]) for i, name in enumerate(m.path_names)})
    nontrial = m.nontrial_forms
    out["paid.other_forms"] = float(np.sum(forms[nontrial] * m.form_rate[nontrial]))
    out["paid.direct"] = j["direct"] * n
    out["paid"] = sum(out[f"paid.{name}"] for name in (*m.path_names, "other_forms", "direct"))
    out["purchased_leads"] = config.setting("purchased_leads_per_day") * scale
    out["crm_leads"] = out["form_fills"] + out["purchased_leads"]
    activities = out["purchased_leads"] * steps.get("purchased_lead", 0.0)
    activities += sum(out[f"trials.{name}"] * steps.get(f"trial_{name}", 0.0) for name in m.path_names)
    activities += sum(float(forms[i]) * steps.get(m.form_names[i], 0.0) for i in nontrial)
    out["crm_activities"] = activities
    return out


def clear_caches() -> None:
    """Forget cached cohort plans and visitor bases (for cold-start measurements)."""
    _plan_cached.cache_clear()
    _regulars.cache_clear()
