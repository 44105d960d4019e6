"""Simulated and real contacts never mix (issue 17): the whole rule, and where each part lives.

The simulator (smsgw.simulator: `smsgw sim`, `smsgw ussd`, the console's phone) acts as
*simulated* contacts (contacts.simulated = 1). What a simulated contact creates (an order,
a sale, a bid, a pool, a supplier's offer, a broadcast) is simulated too, recognisable by
its creator's flag; there is no other mark. Groups are the admin's and belong to neither
side: a simulated leader or member may be in a real group. Three rules:

1. A contact acts only on its own side's things: a simulated contact cannot offer on,
   forward, pledge to, bid on, answer, close or pool against a real contact's order,
   sale, pool or supplier's offer, nor approve a real contact into a group, and a real
   contact cannot do any of these to a simulated one. `refusal` below, asked by OFFER,
   FWD, SELL <sale> <quantity>, BUY, POOL <pool>, OFFER and CLOSE on a pool, POOL
   against an offer, APPROVE (SMS and USSD alike); the answer says why (`sides_apart`).
2. Lists, digests and alerts show a contact only its own side's things: the queries take
   the reader's side (db.orders.open_for_groups, db.listings.open_near, db.suppliers'
   open_offers and all_suppliers), and a new sale is put only in the digests of buyers of
   its seller's side (db.listings.alert_followers; db.listings.waiting leaves out any
   other alert, one made before this rule), so a simulated SELL is in no real buyer's
   digest and charges no real seller's bound.
3. Every message to a simulated contact, or about a simulated contact's doing, goes to the
   local provider, whenever it is made (a reply, a relay, the worker's updates, expiry
   and closing summaries days later): db.outbox._PROVIDER, where every outbound row is
   written; handlers.notify.Outbox makes each caller name what its messages are about.
   So a simulated buyer's order relayed to a real group reaches its real leaders only
   through local, then and later.
"""

from __future__ import annotations

from db import contacts
from handlers.messages import Context


def apart(ctx: Context, owner_id: int) -> bool:
    """Whether the sender and the owner of a thing are on different sides."""
    if owner_id == ctx.contact.id:
        return False   # one's own thing: no look-up
    return contacts.is_simulated(ctx.conn, owner_id) != ctx.contact.simulated


def refusal(ctx: Context, owner_id: int, code: str) -> str | None:
    """Why the sender may not act on the thing `code` owned by `owner_id` (it is of the
    other side), or None."""
    return ctx.t("sides_apart", code=code) if apart(ctx, owner_id) else None
