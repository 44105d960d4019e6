"""STD: the standards bulletin for a product (grades, moisture, contaminant limits, source).

`STD` alone lists the products; `STD MAIZE` (or `VIWANGO MAHINDI`, `NORME MAIS`, a typo
such as `STD MAIZ`) answers with the bulletin in force today; an unclear name is asked back.

The source travels as its short label ("Src: EAX WM grades; EAS 2"). Its first URL is added
only when that costs no extra segment: most readers have feature phones that cannot open a
link, every segment is paid for, and the full URLs stay in the database and the file.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from handlers import keywords
from handlers.messages import Context, Reply
from handlers.router import Command, Router
from handlers.segments import count
from prices import standards

KEYWORDS = keywords.words("std")
MAX_SEGMENTS = 3       # a bulletin; every other STD reply fits one SMS
_QUERY_ECHO_MAX = 20


def handle(ctx: Context, rest: str) -> list[Reply]:
    """Answer `STD [product]` with a bulletin, the product list, or a question back."""
    today = today_for(ctx)
    available = standards.products(ctx.conn, today)
    if not available:
        return [Reply(ctx.t("std_none"))]
    if not rest.strip():
        return [Reply(_fit(ctx, "std_list", available))]
    match = standards.find_product(ctx.conn, rest, today=today)
    if match.kind is standards.MatchKind.FOUND and match.product:
        found = standards.current(ctx.conn, match.product, today)
        if found is not None:
            return [Reply(bulletin(ctx, found))]
    if match.kind is standards.MatchKind.AMBIGUOUS:
        chosen = [s for s in available if s.product in match.candidates]
        chosen.sort(key=lambda s: match.candidates.index(s.product))
        return [Reply(_fit(ctx, "std_choose", chosen))]
    return [Reply(_fit(ctx, "std_unknown", available, query=_echo(rest)))]


def bulletin(ctx: Context, standard: standards.Standard, *, url: bool = True) -> str:
    """The bulletin body and its source label, plus a URL when it adds no segment.

    A body not translated into the reader's language is sent in English, after a word
    in theirs that says so. `url=False` leaves the URL out (a USSD screen cannot open it).
    """
    body = standard.text(ctx.language)
    if ctx.language not in standard.texts:
        body = f"{ctx.t('std_english')} {body}"
    text = body + "\n" + ctx.t("std_source", source=standard.source)
    if count(text).segments > MAX_SEGMENTS:
        # The note can cost the longest body its third segment: the source goes unlabelled.
        text = body + "\n" + standard.source
    if not url:
        return text
    with_url = f"{text} {standard.source_urls[0]}"
    if count(with_url).segments <= count(text).segments:
        return with_url
    return text


def _fit(ctx: Context, key: str, items: list[standards.Standard], **values: str) -> str:
    """The text `key` naming as many products as fit in one SMS ("..." when some are cut)."""
    names = [s.title_in(ctx.language) for s in items]
    example = names[0].upper()
    text = ctx.t(key, products=", ".join(names), example=example, **values)
    keep = len(names)
    while keep > 1 and count(text).segments > 1:
        keep -= 1
        shown = ", ".join(names[:keep]) + ", ..."
        text = ctx.t(key, products=shown, example=example, **values)
    return text


def _echo(text: str) -> str:
    """What the sender asked for, safe to repeat: folded, GSM-7 letters and digits, short."""
    folded = standards.fold(text)
    kept = "".join(ch for ch in folded if ch.isascii() and (ch.isalnum() or ch == " "))
    return " ".join(kept.split())[:_QUERY_ECHO_MAX] or "?"


def today_for(ctx: Context) -> date:
    """Today's date where the service runs (app.timezone), which decides what is in force."""
    zone = ZoneInfo(str(ctx.settings["app.timezone"]))
    return ctx.now.astimezone(zone).date()


def register(router: Router) -> None:
    """Add STD (VIWANGO, NORME) to a router."""
    router.register(Command("standards", KEYWORDS, handle))
