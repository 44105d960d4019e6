"""PRICE, REG and LANG, and a bare "MAIZE NAKURU" understood as a price question."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from db import contacts
from handlers import keywords, localize
from handlers.messages import Context, Reply
from handlers.router import Command, Router
from handlers.segments import fits
from prices import quotes
from prices import countries
from prices.catalog import Catalog, Index, Match, MatchKind, Named, catalog_for
from prices.folding import phrase
from prices.reports import AGENT_SOURCE

PRICE_WORDS = keywords.words("price")
REG_WORDS = keywords.words("reg")
LANG_WORDS = keywords.words("lang")
LANGUAGE_NAMES = {
    "en": {"EN", "ENG", "ENGLISH", "KIINGEREZA", "ANGLAIS"},
    "sw": {"SW", "SWA", "SWAHILI", "KISWAHILI"},
    "fr": {"FR", "FRA", "FRENCH", "FRANCAIS", "KIFARANSA"},
}
BARE_MIN_SCORE = 88  # a message without PRICE must name things clearly to be read as one


@dataclass(frozen=True, slots=True)
class Query:
    commodity: Match
    market: Match | None    # None: no market was named


PARSED_MAX = 2048   # questions remembered per catalog


def parse(catalog: Catalog, text: str, country: str | None = None) -> Query:
    """Split 'IRISH POTATOES WAKULIMA NAKURU' into the commodity and market meant.

    Every split point is tried; the one where both halves match best wins, so names of
    several words need no quotes or separators. The whole text read as one commodity name
    wins ties (it counts twice its score). The answer depends on the catalog and the text
    alone, so it is kept with the catalog: people ask the same few questions.
    """
    key = ("parse", text, country)
    found = catalog.memo.get(key)
    if found is None:
        found = _parse(catalog, text, catalog.markets_for(country))
        if len(catalog.memo) >= PARSED_MAX:
            catalog.memo.clear()
        catalog.memo[key] = found
    return found  # type: ignore[no-any-return]


def _parse(catalog: Catalog, text: str, markets: Index) -> Query:
    words = phrase(text).split()
    whole = " ".join(words)
    split, split_score = None, -1.0
    for cut in range(len(words) - 1, 0, -1):
        commodity = catalog.commodities.match(" ".join(words[:cut]))
        if commodity.kind is MatchKind.NONE:
            continue
        market = markets.match(" ".join(words[cut:]))
        score = _score(commodity) + _score(market)
        if score > split_score:
            split, split_score = Query(commodity, market), score
    # Two exact names (200) lose only to a whole text that scores 100 as one name: when
    # no name has its words, the fuzzy ranking of the whole text (most of the time spent
    # parsing 'MAIZE NAKURU') cannot change the answer and is skipped.
    if split is not None and split_score >= 200 and not catalog.commodities.may_be_exact(whole):
        return split
    alone = catalog.commodities.match(whole)
    if alone.kind is not MatchKind.NONE and _score(alone) * 2 >= split_score:
        return Query(alone, None)
    return split if split is not None else Query(alone, None)


def _score(match: Match) -> float:
    return {MatchKind.EXACT: 100.0, MatchKind.FUZZY: match.score,
            MatchKind.AMBIGUOUS: match.score - 10}.get(match.kind, 0.0)


def display_name(items: tuple[Named, ...], ctx: Context | None = None) -> str:
    """'Maize' for the maize group, 'Maize (white)' for one; 'Mahindi' for a Swahili reader."""
    conn, language = (ctx.conn, ctx.language) if ctx else (None, localize.SOURCE_LANGUAGE)
    if len(items) > 1:
        return localize.base(conn, language, items[0].name)
    return localize.commodity(conn, language, items[0].name)


def unit_text(unit: str, ctx: Context | None = None) -> str:
    """'90 KG' -> '90kg', 'L' -> 'litre' ('lita' for a Swahili reader), '500 ML' -> '500ml'."""
    return localize.unit(ctx.language if ctx else localize.SOURCE_LANGUAGE, unit)


def money(ctx: Context, amount: float) -> str:
    """3200 -> '3,200' (or '3 200' in French); 35.5 -> '35.50' ('35,50'); 30 -> '30'."""
    whole = abs(amount) >= 100 or float(amount).is_integer()
    return localize.number(ctx.language, amount, 0 if whole else 2)


def day(ctx: Context, when: date) -> str:
    """'15 Apr' with the month in the contact's language, and the year when it is not this
    year's ('15 Apr 2022'): a price from another year must never pass for this year's."""
    months = ctx.t("months").split()
    shown = f"{when.day} {months[when.month - 1]}"
    return shown if when.year == ctx.now.year else f"{shown} {when.year}"


def since(ctx: Context, quote: quotes.Quote) -> str:
    """When the price a trend compares with was seen: its day when it is recent ('3 Nov',
    market reports), else its month ('Sep'), with the year when it is not this year's."""
    before = quote.previous_date
    if before is None:
        return ""
    if (quote.date - before).days <= 45:
        return day(ctx, before)
    month = ctx.t("months").split()[before.month - 1]
    return month if before.year == ctx.now.year else f"{month} {before.year}"


def trend(ctx: Context, quote: quotes.Quote) -> str:
    """' (up 50 since Sep)', ' (down 1.20 since 3 Nov)', ' (no change since Sep)', or ''
    with no earlier price."""
    change = quote.change
    if change is None:
        return ""
    key = "trend_same" if abs(change) < 0.005 else "trend_up" if change > 0 else "trend_down"
    return f" ({ctx.t(key, amount=money(ctx, abs(change)), since=since(ctx, quote))})"


def quote_text(ctx: Context, quote: quotes.Quote, group: bool, dated: bool = False) -> str:
    """'wholesale KES 3,200/90kg (up 50 since Sep)', naming the variety when the answer covers
    a group, and its own date when the reply's quotes were not all seen the same day."""
    label = localize.variety(ctx.conn, ctx.language, quote.commodity) if group else ""
    variety = f" {label}" if label else ""
    kind = ctx.t(f"type_{quote.price_type}") if quote.price_type in ("retail", "wholesale") \
        else quote.price_type
    when = f" {day(ctx, quote.date)}" if dated else ""
    # A market agent's report says so: the farmer weighs it against published data.
    source = f" {ctx.t('source_agent')}" if quote.source == AGENT_SOURCE else ""
    return (f"{kind}{variety} {quote.currency} {money(ctx, quote.price)}"
            f"/{unit_text(quote.unit, ctx)}{source}{when}{trend(ctx, quote)}")


def age_text(ctx: Context, newest: date) -> str:
    """How old a price is, in months or years."""
    days = (ctx.now.date() - newest).days
    if days >= 730:
        return ctx.t("age_years", n=days // 365)
    return ctx.t("age_months", n=max(1, round(days / 30.4)))


def pick(found: list[quotes.Quote]) -> list[quotes.Quote]:
    """The newest quote, and one of the other price type if it is about as recent."""
    newest = found[0]
    other = next((q for q in found[1:] if q.price_type != newest.price_type
                  and (newest.date - q.date).days <= 62), None)
    return [newest, other] if other else [newest]


def plain(commodity: Match) -> Match:
    """A name that covers varieties (MAIZE) means the plain commodity ("Maize") when there
    is one: the varieties ("Maize (yellow)") are named by their own names."""
    if len(commodity.items) < 2:
        return commodity
    alone = [item for item in commodity.items if "(" not in item.name]
    if len(alone) != 1:
        return commodity
    return Match(commodity.kind, (alone[0],), commodity.score, commodity.label)


def market_answer(ctx: Context, commodity: Match, market: Named) -> str:
    """The price reply for a commodity at one market (or where else to look)."""
    # The plain commodity when it has a price there, unless that price is old and a
    # variety's is recent (as with markets: an old figure must not hide a recent one).
    found = quotes.latest_at_market(ctx.conn, [i.id for i in commodity.items], market.id)
    alone = plain(commodity)
    if alone is not commodity and found:
        own = quotes.latest_at_market(ctx.conn, [i.id for i in alone.items], market.id)
        recent = ctx.now.date() - timedelta(days=int(ctx.settings["prices.stale_days"]))
        if own and (own[0].date >= recent or found[0].date < recent):
            found, commodity = own, alone
    if not found:
        return no_data(ctx, commodity, market)
    name = display_name(commodity.items, ctx)
    chosen = pick(found)
    group = len(commodity.items) > 1
    stale = ""
    if (ctx.now.date() - chosen[0].date).days > int(ctx.settings["prices.stale_days"]):
        stale = " " + ctx.t("stale", age=age_text(ctx, chosen[0].date))
    for count in (len(chosen), 1):
        shown = chosen[:count]
        dated = len({q.date for q in shown}) > 1   # each its own date, or one for all
        body = "; ".join(quote_text(ctx, q, group, dated) for q in shown)
        reply = ctx.t("price_dated" if dated else "price", commodity=name, market=market.name,
                      date=day(ctx, shown[0].date), quotes=body) + stale
        if fits(reply):
            return reply
    return reply


def no_data(ctx: Context, commodity: Match, market: Named) -> str:
    """No price for this commodity at this market: name the nearest markets that have one."""
    origin = quotes.place(ctx.conn, market.id)
    ids = [i.id for i in commodity.items]
    near = quotes.nearest_with_data(ctx.conn, ids, origin) if origin else []
    name = display_name(commodity.items, ctx)
    if not near:
        return ctx.t("no_data", commodity=name, market=market.name)
    listed = ", ".join(p.name if km is None else f"{p.name} {localize.number(ctx.language, km)}km"
                       for p, km in near)
    return ctx.t("no_data_near", commodity=name, market=market.name, markets=listed)


def best_answer(ctx: Context, commodity: Match) -> str:
    """Without a market: the few public markets of the farmer's country where one variety
    sold highest in the last prices.best_days, each with its date when they differ."""
    recent = ctx.now.date() - timedelta(days=int(ctx.settings["prices.best_days"]))
    best = quotes.best_markets(ctx.conn, [i.id for i in commodity.items], since=recent,
                               country=country_of(ctx))
    if not best:
        name = display_name(commodity.items, ctx)
        if not quotes.has_prices(
                ctx.conn, [i.id for i in commodity.items], country_of(ctx)):
            return ctx.t("no_prices", commodity=name)
        return ctx.t("no_recent", commodity=name, days=int(ctx.settings["prices.best_days"]),
                     keyword=ctx.t("price_keyword"), name=phrase(name))
    first = best[0]
    variety = [item for item in commodity.items if item.name == first.commodity]
    name = display_name(tuple(variety) or commodity.items, ctx)
    kind = ctx.t(f"type_{first.price_type}") if first.price_type in ("retail", "wholesale") \
        else first.price_type
    for count in (3, 2, 1):
        shown = best[:count]
        dated = len({q.date for q in shown}) > 1
        # "; " where the decimal mark is a comma: "Accra 8,21; Kumasi 7,46", not "8,21, Kumasi"
        listed = ctx.t("list_sep").join(f"{q.market} {money(ctx, q.price)}" +
                           (f" {day(ctx, q.date)}" if dated else "") for q in shown)
        reply = ctx.t("best_dated" if dated else "best", commodity=name, kind=kind,
                      currency=first.currency, unit=unit_text(first.unit, ctx),
                      date=day(ctx, first.date), markets=listed,
                      keyword=ctx.t("price_keyword"), name=phrase(name.split("(")[0]))
        if fits(reply):
            return reply
    return reply


def ask_back(ctx: Context, match: Match, keyword: str) -> str:
    """Ask which of a few names was meant."""
    return ctx.t("which", options=", ".join(match.options), keyword=keyword)


def answer(ctx: Context, rest: str) -> str:
    """The reply to PRICE <commodity> [<market>]."""
    if not rest.strip():
        return ctx.t("price_usage")
    catalog = catalog_for(ctx.conn)
    if not catalog.commodities.items:
        return ctx.t("prices_none")
    query = parse(catalog, rest, country_of(ctx, catalog))
    keyword = ctx.t("price_keyword")
    if query.commodity.kind is MatchKind.AMBIGUOUS:
        return ask_back(ctx, query.commodity, keyword)
    if not query.commodity.found:
        suggestions = popular_names(ctx)
        return ctx.t("unknown_commodity", suggestions=suggestions)
    if query.market is None:
        home = _home_market(ctx, catalog)
        if home is not None:
            return market_answer(ctx, query.commodity, home)
        return best_answer(ctx, query.commodity)
    if query.market.kind is MatchKind.AMBIGUOUS:
        return ask_back(ctx, query.market, f"{keyword} {query.commodity.label}")
    if not query.market.found:
        return ctx.t("unknown_market", keyword=keyword, name=query.commodity.label)
    return market_answer(ctx, query.commodity, freshest(ctx, query.commodity, query.market))


def freshest(ctx: Context, commodity: Match, market: Match) -> Named:
    """Of several markets a place names (NAIROBI: the market, "Kangemi (Nairobi)", the
    county's), the market of that very name when it has a price, unless that price is old
    (prices.stale_days) and another market of the place has a recent one: an old figure must
    not hide a recent one. Without a market of that name, the one with the newest price."""
    if len(market.items) == 1:
        return market.items[0]
    ids = [i.id for i in commodity.items]
    dated = []
    for item in market.items:
        found = quotes.latest_at_market(ctx.conn, ids, item.id)
        dated.append((found[0].date if found else date.min, -item.id, item))
    newest = max(dated, key=lambda entry: entry[:2])
    named = exact_market(market)
    if len(named.items) == 1:
        own = next(entry for entry in dated if entry[2].id == named.items[0].id)
        recent = ctx.now.date() - timedelta(days=int(ctx.settings["prices.stale_days"]))
        if own[0] != date.min and (own[0] >= recent or newest[0] < recent):
            return own[2]
    return newest[2]


def popular_names(ctx: Context) -> str:
    """A few commodity names people can try."""
    names = [localize.base(ctx.conn, ctx.language, n).lower()
             for n in quotes.popular_commodities(ctx.conn, 12, country_of(ctx))]
    return ", ".join(list(dict.fromkeys(names))[:5])


def country_of(ctx: Context, catalog: Catalog | None = None) -> str:
    """The contact's country: their registered market's, else their number's when the
    deployment serves it, else the deployment's first. PRICE, SUB, best markets and the
    USSD lists stay within it."""
    catalog = catalog or catalog_for(ctx.conn)
    served = countries.served(ctx.settings)
    if len(served) == 1 and set(catalog.by_country) <= set(served):
        return next(iter(served))   # one country, every market in it: nothing to look up
    market_id = contacts.home_market(ctx.conn, ctx.contact.id)
    if market_id in catalog.market_country:
        return catalog.market_country[market_id]
    return countries.of_number(ctx.settings, ctx.contact.phone) or \
        countries.first(ctx.settings).code


def _home_market(ctx: Context, catalog: Catalog) -> Named | None:
    market_id = contacts.home_market(ctx.conn, ctx.contact.id)
    return None if market_id is None else catalog.markets.items.get(market_id)


def price(ctx: Context, rest: str) -> list[Reply]:
    """PRICE <commodity> [<market>]."""
    return [Reply(answer(ctx, rest))]


def bare_price(ctx: Context, text: str) -> list[Reply] | None:
    """'MAIZE NAKURU' without a keyword, when both names are clear; else not ours."""
    catalog = catalog_for(ctx.conn)
    if not catalog.commodities.items:
        return None
    query = parse(catalog, text, country_of(ctx, catalog))
    clear = query.commodity.found and query.commodity.score >= BARE_MIN_SCORE
    if not clear or (query.market is not None and not (
            query.market.found and query.market.score >= BARE_MIN_SCORE)):
        return None
    return [Reply(answer(ctx, text))]


def register_market(ctx: Context, rest: str) -> list[Reply]:
    """REG <market>: remember the contact's home market."""
    catalog = catalog_for(ctx.conn)
    if not rest.strip():
        home = _home_market(ctx, catalog)
        if home is None:
            return [Reply(ctx.t("reg_usage"))]
        return [Reply(ctx.t("reg_current", market=home.name))]
    match = exact_market(catalog.markets_for(country_of(ctx, catalog)).match(rest))
    if match.kind is MatchKind.AMBIGUOUS or (match.found and len(match.items) > 1):
        options = match.options or tuple(phrase(i.name) for i in match.items[:3])
        return [Reply(ctx.t("which", options=", ".join(options), keyword=ctx.t("reg_keyword")))]
    if not match.found:
        return [Reply(ctx.t("reg_unknown"))]
    return [Reply(save_home_market(ctx, match.items[0]))]


def exact_market(match: Match) -> Match:
    """Of the markets a place names (NAIROBI: the market and the county's), the market of
    that very name when there is one: REG NAIROBI means the market Nairobi."""
    named = [item for item in match.items if phrase(item.name) == match.label]
    if match.found and len(match.items) > 1 and len(named) == 1:
        return Match(match.kind, tuple(named), match.score, match.label)
    return match


def save_home_market(ctx: Context, market: Named) -> str:
    """Make a market the contact's home market; return the confirmation (SMS and USSD)."""
    contacts.set_home_market(ctx.conn, ctx.contact.id, market.id)
    return ctx.t("reg_done", market=market.name)


def home_market(ctx: Context) -> Named | None:
    """The contact's registered market, if any."""
    return _home_market(ctx, catalog_for(ctx.conn))


def set_language(ctx: Context, rest: str) -> list[Reply]:
    """LANG EN|SW|FR: switch the reply language."""
    wanted = phrase(rest)
    language = next((code for code, names in LANGUAGE_NAMES.items() if wanted in names), None)
    if language is None:
        return [Reply(ctx.t("lang_usage"))]
    return [Reply(save_language(ctx, language))]


def save_language(ctx: Context, language: str) -> str:
    """Switch the contact's language; return the confirmation in it (SMS and USSD)."""
    contacts.set_language(ctx.conn, ctx.contact.id, language)
    ctx.language = language
    return ctx.t("lang_done")


def register(router: Router) -> None:
    """Add PRICE, REG and LANG, and the bare commodity-market fallback."""
    router.register(Command("price", PRICE_WORDS, price))
    router.register(Command("reg", REG_WORDS, register_market))
    router.register(Command("lang", LANG_WORDS, set_language))
    router.add_fallback(bare_price)
