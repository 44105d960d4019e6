"""Bids on produce for sale: BUY from registered buyers, AGREE or DECLINE from the seller.

1. A registered buyer sends `BUY K7Q3 [quantity] [@price]`: all that is left at the
   sale's price unless they say otherwise. The bid gets its own id from the shared id
   space (db.codes) and the seller an SMS naming it with the words to answer:
   `AGREE <bid>` or `DECLINE <bid>`. A buyer has one open bid per sale: a new BUY replaces
   it (under a new id, so the seller never agrees to terms they were not shown), and the
   same BUY again changes nothing.
2. When the seller agrees, the quantity comes off the sale and, only then, each side gets
   the other's number: the buyer the seller's (for a group's sale, the leader's who posted
   it, never a member's), the seller the buyer's. A sale with nothing left is sold, and its
   other bids lapse.
Keywords: NUNUA / RIDHIA / KATAA (sw), ACHETER / ACCORD / REFUSER (fr).
"""

from __future__ import annotations

from db import groups as groups_db
from db import listings as listings_db
from db import pledges as pledges_db
from db.listings import Bid, Listing
from handlers import keywords, listings, orders, price, sale_ends, sides
from handlers.listings import KIND, recipient
from handlers.messages import Context, Reply
from handlers.notify import Outbox, held_note
from handlers.order_grammar import UNITS, GrammarError, echo, read_price, read_quantity
from handlers.phone import display_phone
from handlers.router import Command, Router
from prices import countries
from prices.folding import fold

BUY_WORDS = keywords.words("buy")
AGREE_WORDS = keywords.words("agree")
DECLINE_WORDS = keywords.words("decline")


def terms(ctx: Context, listing: Listing, bid: Bid) -> str:
    """'20 bags maize @KES 3,400' (or '... at a price to agree')."""
    name = listings.what(ctx, listing, bid.quantity).split(" @")[0]
    if bid.price is None:
        return f"{name} {ctx.t('bid_no_price')}"
    return f"{name} @{bid.currency or ''} {price.money(ctx, bid.price)}".replace("@ ", "@")


def _buyer_name(ctx: Context, buyer_id: int) -> str:
    return groups_db.role_name(ctx.conn, buyer_id, "buyer") or ctx.t("order_a_buyer")


# ---------------------------------------------------------------------------- BUY


def buy(ctx: Context, rest: str) -> list[Reply]:
    """BUY <sale> [quantity] [@price]: only registered buyers."""
    if groups_db.role_name(ctx.conn, ctx.contact.id, "buyer") is None:
        return [Reply(ctx.t("bid_not_buyer"))]
    listing, words, problem = listings.find(ctx, rest, "buy_usage")
    if listing is None:
        return [Reply(problem or ctx.t("buy_usage"))]
    if listing.seller_id == ctx.contact.id:
        return [Reply(ctx.t("bid_own", code=listing.code))]
    if (apart := sides.refusal(ctx, listing.seller_id, listing.code)) is not None:
        return [Reply(apart)]
    if listing.status != listings_db.OPEN or listing.quantity <= 0:
        return [Reply(ctx.t("sale_closed", code=listing.code))]
    try:
        quantity, amount, currency = _bid_words(ctx, listing, words)
    except GrammarError as error:
        return [Reply(ctx.t(error.key, **orders.figures(ctx, error.values)))]
    if quantity > listing.quantity:
        return [Reply(ctx.t("bid_too_much", code=listing.code,
                            unit=listings.unit_name(ctx, listing),
                            left=orders.quantity(ctx, listing.quantity)))]
    return [Reply(place_bid(ctx, listing, quantity, amount, currency))]


def _bid_words(ctx: Context, listing: Listing,
               words: list[str]) -> tuple[float, float | None, str | None]:
    """(quantity, price, currency) from the words after the sale's id; the sale's own when
    not given. GrammarError names a bad part."""
    quantity, amount, currency = listing.quantity, listing.price, listing.currency
    if words and (words[0][:1].isdigit() or words[0].startswith(("-", "\u2212"))):
        quantity, taken = read_quantity(words, listing.unit)
        del words[:taken]
        if words and words[0] in UNITS:
            words.pop(0)
    if words and words[0].startswith("@"):
        amount, currency, taken = read_price(words)
        currency = currency or listing.currency or \
            countries.get(ctx.settings, listing.country).currency
        del words[:taken]
    if words:
        raise GrammarError("buy_unexpected", word=echo(words[0]), code=listing.code)
    return quantity, amount, currency


def place_bid(ctx: Context, listing: Listing, quantity: float, amount: float | None,
              currency: str | None) -> str:
    """Store the bid (replacing the buyer's open one) and tell the seller; the answer."""
    current = listings_db.open_bid(ctx.conn, listing.id, ctx.contact.id)
    if current is not None and (current.quantity, current.price) == (quantity, amount):
        return ctx.t("bid_sent", bid=current.code, code=listing.code,
                     terms=terms(ctx, listing, current))   # the same BUY again: no news
    if current is not None:
        listings_db.decide(ctx.conn, current.id, "replaced", ctx.now)
    bid = listings_db.create_bid(ctx.conn, listing_id=listing.id, buyer_id=ctx.contact.id,
                                 quantity=quantity, price=amount, currency=currency,
                                 now=ctx.now)
    groups_db.audit(ctx.conn, "bid", actor_id=ctx.contact.id, group_id=listing.group_id,
                    now=ctx.now, listing=listing.code, bid=bid.code, quantity=quantity,
                    price=amount, replaced=current.code if current else None)
    seller = recipient(ctx.conn, listing.seller_id)
    pledged = pledges_db.total(ctx.conn, pledges_db.LISTINGS, listing.id)
    group = groups_db.by_id(ctx.conn, listing.group_id) if listing.group_id else None
    out = Outbox(ctx.conn, ctx.settings, ctx.now, KIND, about=listing.seller_id)
    out.send([seller] if seller else [], lambda c: (
        listings.fitted(c, "bid_alert_group", bid=bid.code, code=listing.code,
                        terms=terms(c, listing, bid), buyer=_buyer_name(c, bid.buyer_id),
                        group=group.code, total=orders.quantity(c, pledged),
                        wanted=orders.quantity(c, listing.offered))
        if group else
        listings.fitted(c, "bid_alert", bid=bid.code, code=listing.code,
                        terms=terms(c, listing, bid), buyer=_buyer_name(c, bid.buyer_id))))
    return listings.with_held(ctx, ctx.t("bid_sent", bid=bid.code, code=listing.code,
                                         terms=terms(ctx, listing, bid)))


# ---------------------------------------------------------------------------- AGREE, DECLINE


def _own_bid(ctx: Context, rest: str, usage: str) -> tuple[Bid, Listing] | str:
    """The open bid a seller names, with its sale, or the answer why not."""
    words = fold(rest).split()
    if not words:
        return ctx.t(usage)
    code = "".join(ch for ch in words[0] if ch.isalnum())[:8]
    bid = listings_db.bid_by_code(ctx.conn, code)
    if bid is None:
        return listings.wrong_code(ctx, code, "bid")
    listing = listings_db.by_id(ctx.conn, bid.listing_id)
    assert listing is not None   # a bid's sale is never deleted
    if listing.seller_id != ctx.contact.id:
        return ctx.t("agree_not_seller", code=listing.code)
    if bid.status != "open":
        return ctx.t("bid_not_open", bid=bid.code)
    if listing.status != listings_db.OPEN:
        return ctx.t("sale_closed", code=listing.code)
    return bid, listing


def agree(ctx: Context, rest: str) -> list[Reply]:
    """AGREE <bid>: the seller sells; the quantity comes off and numbers are exchanged."""
    found = _own_bid(ctx, rest, "agree_usage")
    if isinstance(found, str):
        return [Reply(found)]
    bid, listing = found
    if not listings_db.take(ctx.conn, listing.id, bid.quantity):
        return [Reply(ctx.t("agree_too_much", code=listing.code, bid=bid.code,
                            unit=listings.unit_name(ctx, listing),
                            left=orders.quantity(ctx, listing.quantity),
                            quantity=orders.quantity(ctx, bid.quantity)))]
    listings_db.decide(ctx.conn, bid.id, "agreed", ctx.now)
    left = listing.quantity - bid.quantity
    groups_db.audit(ctx.conn, "agree", actor_id=ctx.contact.id, group_id=listing.group_id,
                    now=ctx.now, listing=listing.code, bid=bid.code, quantity=bid.quantity,
                    left=left)
    buyer = recipient(ctx.conn, bid.buyer_id)
    group = groups_db.by_id(ctx.conn, listing.group_id) if listing.group_id else None
    out = Outbox(ctx.conn, ctx.settings, ctx.now, KIND, about=listing.seller_id)
    out.send([buyer] if buyer else [], lambda c: (
        listings.fitted(c, "agree_buyer_group" if group else "agree_buyer", bid=bid.code,
                        code=listing.code, terms=terms(c, listing, bid),
                        group=group.code if group else "",
                        market=listings.market_name(c, listing.market_id),
                        phone=display_phone(ctx.contact.phone, c.settings))))
    if left <= 0:
        sale_ends.finish(ctx.conn, ctx.settings, ctx.now, listing, "sold",
                        actor_id=ctx.contact.id)
    phone = display_phone(buyer.phone, ctx.settings) if buyer else "-"
    return [Reply(listings.fitted(ctx, "agree_done", held=held_note(ctx), bid=bid.code,
                                  code=listing.code,
                                  terms=terms(ctx, listing, bid),
                                  buyer=_buyer_name(ctx, bid.buyer_id), phone=phone,
                                  left=orders.quantity(ctx, max(0.0, left)),
                                  unit=listings.unit_name(ctx, listing)))]


def decline(ctx: Context, rest: str) -> list[Reply]:
    """DECLINE <bid>: the seller refuses; the buyer hears and may bid again."""
    found = _own_bid(ctx, rest, "decline_usage")
    if isinstance(found, str):
        return [Reply(found)]
    bid, listing = found
    listings_db.decide(ctx.conn, bid.id, "declined", ctx.now)
    groups_db.audit(ctx.conn, "decline", actor_id=ctx.contact.id, group_id=listing.group_id,
                    now=ctx.now, listing=listing.code, bid=bid.code)
    buyer = recipient(ctx.conn, bid.buyer_id)
    out = Outbox(ctx.conn, ctx.settings, ctx.now, KIND, about=listing.seller_id)
    out.send([buyer] if buyer else [], lambda c: c.t("decline_buyer", bid=bid.code,
                                                     code=listing.code))
    return [Reply(listings.with_held(ctx, ctx.t("decline_done", bid=bid.code)))]


def register(router: Router) -> None:
    """Add BUY, AGREE and DECLINE."""
    router.register(Command("buy", BUY_WORDS, buy))
    router.register(Command("agree", AGREE_WORDS, agree))
    router.register(Command("decline", DECLINE_WORDS, decline))
