"""Row-level renderers of the leads sheet, the CRM dumps and the spend import.

Each cohort's rows are formatted once, in a fixed order, with a random stream of their own
(``(seed, cohort day, purpose)``), and cached; a day's or a dump's export is a selection of
those rows. So a row's text never depends on the range that was asked for.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from funnel_assets.lib.config import OTHER_SOURCES_FUNNEL
from funnel_assets.lib.demo_leads import (
    _format_created,
    _format_mobile,
    _messy_city,
    _messy_email,
    _messy_name,
    _pick_answer,
    _pick_phone_style,
    _random_case,
)

from .edtech_config import EdtechConfig
from .edtech_rng import E_COHORT, P_CRM_RENDER, P_SHEET, local_datetime, py_rng, stable_hash
from .edtech_world import KIND_SHEET, Assignment, Cohort, Sale, cohort, spend_day

LEADS_SHEET_COLUMNS: tuple[str, ...] = (
    "Name", "Email", "Phone", "City", "Question 1", "utmSource", "utmMedium", "utmCamp", "created date",
)
CRM_ASSIGNED_COLUMNS: tuple[str, ...] = ("sources", "assignOn", "leadMobile", "employee")
CRM_SALES_COLUMNS: tuple[str, ...] = (
    "_id", "status", "txn_id", "sid", "emiId", "pId",
    "paymentGateway", "target", "targetSuperGroup", "courseName",
    "source", "tokenAmount", "WithOut_Token_paidAmount", "createdOn",
    "pType", "eBookRev", "bookRev", "paymentType", "DP", "lastEmiDate",
    "paidAmount", "corePartner", "StudentContact", "StudentSignupDate",
    "StudentName", "TotalAmount", "product", "mandateStatus", "StudentEmail",
    "EBook_Net_Amount", "Book_Net_Amount", "Product_Net_Amount", "netAmount",
    "employeeName", "employeeTeam", "Total_emi", "Paid_Emi_Count",
    "Unpaid_Emi_Count", "Paid_Emi_Amount", "Unpaid_Amount", "Last_Paid_Date",
    "netAmountAfterPDD", "assignedLeadSources", "Funnel",
)
"""Seed 002, Phase 2.1: the CRM's sales dump, 44 columns."""
SPEND_COLUMNS: tuple[str, ...] = (
    "date_time", "campaign", "ad_group", "impressions", "clicks", "cost",
    "account", "video_views", "platform", "AccountDescriptiveName",
    "CampaignType", "Objective", "Category", "subCategory",
    "goalID", "goalName", "region", "Installs", "SignUps", "Purchases",
    "Revenue", "Web Purchases", "Web Revenue", "Subscribers",
    "Super Leads", "Skill Leads", "Online Purchases", "Online Revenue",
    "Lead Purchases", "Lead Revenue", "Pass Purchases", "Pass Revenue",
    "Pass Pro Purchases", "Pass Pro Revenue", "SuperCoaching Purchases",
    "SuperCoaching Revenue", "SkillAcademy Purchases", "SkillAcademy Revenue",
    "Book Purchases", "Book Revenue", "Total Purchases", "Total Revenue",
    "Funnel",
)
"""Seed 002, Phase 3.1: the spend import (``Perf_import``). The seed says "44 total" but lists these
43, and its formula ``SUMIFS(Perf_import!F:F, Perf_import!AQ:AQ, ...)`` puts cost in column F and
Funnel in column AQ (the 43rd): the list is right."""

GST = 1.18


def num(x: float) -> str:
    """A number as the CRM's JSON-to-CSV export writes it: 88500, 75000.5, 12711.86."""
    x = round(float(x), 2)
    if x == int(x):
        return str(int(x))
    return f"{x:.2f}".rstrip("0").rstrip(".")


# ============================================================================= leads sheet


@dataclass(frozen=True)
class SheetRow:
    at: int
    person: int
    is_repeat: bool
    values: tuple[str, ...]  # LEADS_SHEET_COLUMNS
    campaign: int  # -1: none
    bad_date: bool


def _intl_text(phone: str) -> str:
    for cc in ("+971", "+44", "+65", "+1"):
        if phone.startswith(cc):
            rest = phone[len(cc):]
            return f"{cc} {rest[:3]} {rest[3:]}" if len(rest) > 6 else f"{cc} {rest}"
    return phone


def _sheet_campaign(r, config: EdtechConfig, co: Cohort, k: int, c: int) -> tuple[str, str, str, str]:
    """(utmSource, utmMedium, utmCamp, program) as written in the sheet."""
    if c < 0:
        src = co.utm_source[k]
        return (_random_case(r, src, 0.8) if src else ""), "", "", co.program[k]
    camp = config.campaigns[c]
    if c == int(co.campaign[k]):
        source, medium = co.utm_source[k], co.utm_medium[k]
    else:
        source, medium, _ = r.choices(camp.channels, weights=[w for *_, w in camp.channels])[0]
    utm = camp.utm_camp
    if r.random() < 0.03:
        utm = _random_case(r, utm, 0.0)
    elif r.random() < 0.02:
        utm = utm + " "
    medium = medium if r.random() < 0.95 else medium.upper()
    return _random_case(r, source, 0.78), medium, utm, camp.program


@lru_cache(maxsize=64)
def cohort_sheet_rows(config: EdtechConfig, seed: int, day: date, scale: float, tz_name: str) -> tuple[SheetRow, ...]:
    co = cohort(config, seed, day, scale, tz_name)
    tz = ZoneInfo(tz_name)
    r = py_rng(seed, co.index, E_COHORT, P_SHEET, 1)
    rows = []
    for k in range(co.n):
        if co.kind[k] != KIND_SHEET:
            continue
        style = _pick_phone_style(r)
        for is_repeat in (False, True):
            if is_repeat and not co.repeat_at[k]:
                break
            at = int(co.repeat_at[k]) if is_repeat else int(co.arrived_at[k])
            c = int(co.repeat_campaign[k]) if is_repeat else int(co.campaign[k])
            if co.intl_phone[k]:
                phone = _intl_text(co.intl_phone[k])
            elif is_repeat:
                phone = _format_mobile(co.phone[k], _pick_phone_style(r, exclude=style))
            elif co.sheet_phone[k] == "none":
                phone = ""
            elif co.sheet_phone[k] == "placeholder":
                phone = "9999999999" if r.random() < 0.8 else "1234567890"
            else:
                phone = _format_mobile(co.phone[k], style)
            email = _messy_email(r, co.email[k]) if (is_repeat or co.sheet_email[k]) else ""
            if not is_repeat and co.sheet_phone[k] == "none" and not co.sheet_email[k]:
                phone, email = "", ""
            source, medium, utm, program = _sheet_campaign(r, config, co, k, c)
            bad = None if is_repeat else co.bad_date[k]
            city = _messy_city(r, co.city[k]) if (not is_repeat or r.random() < 0.9) else ""
            values = (
                _messy_name(r, co.first[k], co.last[k]), email, phone, city, _pick_answer(r, program),
                source, medium, utm, bad or _format_created(local_datetime(at, tz)),
            )
            rows.append(SheetRow(at, k, is_repeat, values, c, bad is not None))
    return tuple(rows)


# ============================================================================= CRM: assigned leads


def _crm_phone(u: float, co: Cohort, k: int) -> str:
    """How the CRM stores a lead's mobile: mostly 10 digits, sometimes with 91 / +91 / 0."""
    if co.intl_phone[k]:
        return co.intl_phone[k]
    p = co.phone[k]
    if u < 0.78:
        return p
    if u < 0.88:
        return "91" + p
    if u < 0.94:
        return "+91" + p
    if u < 0.98:
        return f"+91 {p[:5]} {p[5:]}"
    return "0" + p


def assignment_row(config: EdtechConfig, co: Cohort, a: Assignment, tz: ZoneInfo) -> tuple[str, ...]:
    """``sources,assignOn,leadMobile,employee`` of one assignment (``assignOn`` local time)."""
    when = local_datetime(a.assigned_at, tz).strftime("%Y-%m-%d %H:%M:%S")
    return (a.source, when, _crm_phone(a.u, co, a.person), config.sales_reps[a.employee].employee)


# ============================================================================= CRM: sales


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    y, m = d.year + y, m + 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def _iso(epoch: int, millis: int) -> str:
    return datetime.fromtimestamp(epoch, dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _b62(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        value, d = divmod(value, 62)
        out.append(_B62[d])
    return "".join(out)


def sale_id(sale: Sale) -> str:
    """A Mongo-style ObjectId: the creation second, then 8 random bytes."""
    return f"{sale.created_at & 0xFFFFFFFF:08x}{sale.uniq:016x}"


def sale_amounts(config: EdtechConfig, sale: Sale) -> dict[str, float]:
    product = config.products[sale.product]
    total = int(round(product.total_amount * (1 - sale.discount) / 100.0) * 100)
    net = round(total / GST, 2)
    ebook_net = round(product.ebook_rev / GST, 2)
    book_net = round(product.book_rev / GST, 2)
    return {"total": total, "net": net, "ebook_net": ebook_net, "book_net": book_net, "product_net": round(net - ebook_net - book_net, 2)}


def sale_row(config: EdtechConfig, co: Cohort, sale: Sale, as_of: date, tz: ZoneInfo) -> tuple[str, ...]:
    """The sale's row in a dump taken at the end of ``as_of`` (EMI and refund state evolve)."""
    product = config.products[sale.product]
    rep = config.sales_reps[sale.employee]
    k = sale.person
    money = sale_amounts(config, sale)
    total, net = money["total"], money["net"]
    sold_on = local_datetime(sale.created_at, tz).date()
    uniq = sale.uniq
    millis = uniq % 1000
    refunded = sale.refunded and as_of >= sold_on + timedelta(days=7)
    if sale.emi_months:
        months = sale.emi_months
        dp = int(round(total * 0.2 / 100.0) * 100)
        emi = round((total - dp) / months, 2)
        dues = [_add_months(sold_on, i) for i in range(1, months + 1)]
        payable = months if sale.default_after is None else sale.default_after
        paid = sum(1 for i, due in enumerate(dues, 1) if due <= as_of and i <= payable)
        paid_amount = round(dp + paid * emi, 2) if paid < months else float(total)
        cancelled = sale.default_after is not None and as_of >= dues[sale.default_after]
        mandate = "completed" if paid == months else ("cancelled" if cancelled else "active")
        emi_cols = (num(dp), dues[-1].isoformat(), months, paid, months - paid, round(paid_amount - dp, 2), round(total - paid_amount, 2),
                    (dues[paid - 1] if paid else sold_on).isoformat())
        payment_type, emi_id, after_pdd = "EMI", f"EMI{(uniq >> 20) % 10**8:08d}", round(net * 0.94, 2)
        token = 0
    else:
        paid_amount = float(total)
        mandate = ""
        emi_cols = ("", "", 0, 0, 0, 0, 0, sold_on.isoformat())
        payment_type, emi_id, after_pdd = ("Token + Full Payment" if sale.token else "Full Payment"), "", round(net * 0.98, 2)
        token = sale.token
    if refunded:
        after_pdd = 0
    g = sale.gateway
    digits = uniq % 10**12
    txn = {"Razorpay": "pay_" + _b62(uniq, 14), "Cashfree": f"CF{digits:012d}", "PayU": f"4039{digits:012d}",
           "Bank Transfer": f"UTR{digits:012d}", "Propelld": f"PRPL{digits % 10**10:010d}", "ShopSe": f"SHP{digits % 10**10:010d}"}.get(g, f"T{digits}")
    r = py_rng(stable_hash(sale_id(sale)), co.index, P_CRM_RENDER, 2)
    name = co.name(k)
    u = r.random()
    student_name = name if u < 0.8 else (name.upper() if u < 0.9 else name.lower())
    email = co.email[k] if r.random() < 0.85 else _messy_email(r, co.email[k]).strip()
    dp_s, last_emi, total_emi, paid_n, unpaid_n, paid_emi_amt, unpaid_amt, last_paid = emi_cols
    values = (
        sale_id(sale), "refunded" if refunded else "success", txn, str(co.index * 65536 + k), emi_id, product.product_id,
        g, product.program, product.target_super_group, product.course_name,
        sale.channel, num(token), num(paid_amount - token), _iso(sale.created_at, millis),
        product.p_type, num(product.ebook_rev), num(product.book_rev), payment_type, dp_s, last_emi,
        num(paid_amount), sale.partner, _crm_phone(r.random(), co, k), _iso(sale.signup_at, (millis * 7) % 1000),
        student_name, num(total), product.product, mandate, email,
        num(money["ebook_net"]), num(money["book_net"]), num(money["product_net"]), num(net),
        rep.employee, rep.team, str(total_emi), str(paid_n),
        str(unpaid_n), num(paid_emi_amt), num(unpaid_amt), last_paid,
        num(after_pdd), sale.assigned_lead_sources, sale.funnel,
    )
    return values


# ============================================================================= spend


def spend_rows(config: EdtechConfig, seed: int, day: date, scale: float) -> list[tuple[str, ...]]:
    out = []
    for cd in spend_day(config, seed, day, scale):
        c = cd.campaign
        if cd.cost <= 0:
            continue
        zero = "0"
        goal_id = str(100000 + stable_hash(c.name) % 900000)
        row = {
            "date_time": day.isoformat(), "campaign": c.name, "ad_group": c.ad_group,
            "impressions": str(cd.impressions), "clicks": str(cd.clicks), "cost": f"{cd.cost:.2f}",
            "account": c.account, "video_views": str(cd.video_views), "platform": c.platform,
            "AccountDescriptiveName": c.account_name, "CampaignType": c.campaign_type, "Objective": c.objective,
            "Category": "Finance Certifications", "subCategory": c.program, "goalID": goal_id,
            "goalName": f"{c.program} Lead Form Submit", "region": "India", "Installs": zero,
            "SignUps": str(cd.signups), "Purchases": str(cd.purchases), "Revenue": num(cd.revenue),
            "Web Purchases": str(cd.purchases), "Web Revenue": num(cd.revenue), "Subscribers": zero,
            "Super Leads": zero, "Skill Leads": zero, "Online Purchases": zero, "Online Revenue": zero,
            "Lead Purchases": str(cd.signups), "Lead Revenue": zero, "Pass Purchases": zero, "Pass Revenue": zero,
            "Pass Pro Purchases": zero, "Pass Pro Revenue": zero, "SuperCoaching Purchases": zero,
            "SuperCoaching Revenue": zero, "SkillAcademy Purchases": zero, "SkillAcademy Revenue": zero,
            "Book Purchases": zero, "Book Revenue": zero, "Total Purchases": str(cd.purchases),
            "Total Revenue": num(cd.revenue), "Funnel": c.funnel or OTHER_SOURCES_FUNNEL,
        }
        out.append(tuple(row[col] for col in SPEND_COLUMNS))
    return out


__all__ = [
    "CRM_ASSIGNED_COLUMNS",
    "CRM_SALES_COLUMNS",
    "LEADS_SHEET_COLUMNS",
    "SPEND_COLUMNS",
    "SheetRow",
    "assignment_row",
    "cohort_sheet_rows",
    "num",
    "sale_amounts",
    "sale_id",
    "sale_row",
    "spend_rows",
]
