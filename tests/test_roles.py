"""Who may do what: every command of the router against every role, checked on the server
(issue 12). A command added to the router without a row here fails the last test."""

from __future__ import annotations

import pytest
from support import kenya_config
from test_orders import (
    BUYER,
    KIMA_A,
    KIMA_LEADER,
    OTHER_BUYER,
    OUTSIDER,
    PWANI_A,
    PWANI_LEADER,
    say,
    setup_groups,
)

from handlers.registry import build_router

ROLES = {"stranger": OUTSIDER, "member": KIMA_A, "leader": KIMA_LEADER,
         "far leader": PWANI_LEADER, "far member": PWANI_A, "buyer": BUYER,
         "other buyer": OTHER_BUYER}
EVERYONE = "everyone"   # a command anyone may use (answers vary, nothing is refused)
LEADER_ONLY = "Only a group leader can do that."
BUYERS_ONLY = "Only registered buyers"
NOT_A_SALE = "{code} is a buyer's order"

# command name -> (text to send, {role: the start of the refusal, or None when allowed})
TABLE: dict[str, tuple[str, dict[str, str | None] | str]] = {
    "order": ("ORDER 10 BAGS MAIZE AT NAKURU", {
        "stranger": "Only registered buyers", "member": "Only registered buyers",
        "leader": "Only registered buyers", "far leader": "Only registered buyers",
        "far member": "Only registered buyers", "buyer": None, "other buyer": None}),
    "fwd": ("FWD {code}", {
        "stranger": LEADER_ONLY, "member": LEADER_ONLY, "leader": None,
        "far leader": "Order {code} was not sent to your group.", "far member": LEADER_ONLY,
        "buyer": LEADER_ONLY, "other buyer": LEADER_ONLY}),
    "offer": ("OFFER {code} 5", {
        "stranger": "Order {code} is for members", "member": None,
        "leader": None, "far leader": "Order {code} is for members",
        "far member": "Order {code} is for members", "buyer": "Order {code} is for members",
        "other buyer": "Order {code} is for members"}),
    "close": ("CLOSE {code}", {
        "stranger": "Only the buyer who posted", "member": "Only the buyer who posted",
        "leader": "Only the buyer who posted", "far leader": "Only the buyer who posted",
        "far member": "Only the buyer who posted", "buyer": None,
        "other buyer": "Only the buyer who posted"}),
    "approve": ("APPROVE KIMA 0799000001", {
        "stranger": LEADER_ONLY, "member": LEADER_ONLY, "leader": None,
        "far leader": LEADER_ONLY, "far member": LEADER_ONLY, "buyer": LEADER_ONLY,
        "other buyer": LEADER_ONLY}),
    "bcast": ("BCAST Meeting at 10", {
        "stranger": LEADER_ONLY, "member": LEADER_ONLY, "leader": None, "far leader": None,
        "far member": LEADER_ONLY, "buyer": LEADER_ONLY, "other buyer": LEADER_ONLY}),
    # Produce for sale: BUY and WANT for buyers; AGREE, DECLINE, SOLD and WITHDRAW for the
    # seller of that sale or bid, so with an order's id everyone is told it is an order
    # (test_listings plays them with sales and bids of their own).
    "want": ("WANT MAIZE NAKURU", {
        "stranger": BUYERS_ONLY, "member": BUYERS_ONLY, "leader": BUYERS_ONLY,
        "far leader": BUYERS_ONLY, "far member": BUYERS_ONLY, "buyer": None,
        "other buyer": None}),
    "buy": ("BUY {code} 5", {
        "stranger": BUYERS_ONLY, "member": BUYERS_ONLY, "leader": BUYERS_ONLY,
        "far leader": BUYERS_ONLY, "far member": BUYERS_ONLY, "buyer": NOT_A_SALE,
        "other buyer": NOT_A_SALE}),
    **{name: (f"{name.upper()} {{code}}", {role: NOT_A_SALE for role in ROLES})
       for name in ("agree", "decline", "sold", "withdraw")},
    "sell": ("SELL 10 BAGS MAIZE AT NAKURU", EVERYONE), "list": ("LIST MAIZE", EVERYONE),
    # Market agents are registered by an admin (smsgw agents add); none of these roles is one
    # (tests/test_agents.py plays the agents' side).
    "rpt": ("RPT MAIZE NAKURU 3400 90KG", {role: "Only registered market agents"
                                           for role in ROLES}),
    # Group purchases: any leader opens one for their own group (tests/test_pools.py plays
    # answers, closing and the suppliers' side); suppliers are registered by an admin.
    "pool": ("POOL DAP 50KG @3200", {
        "stranger": LEADER_ONLY, "member": LEADER_ONLY, "leader": None, "far leader": None,
        "far member": LEADER_ONLY, "buyer": LEADER_ONLY, "other buyer": LEADER_ONLY}),
    "supply": ("SUPPLY DAP 50KG @3200", {role: "Only registered suppliers" for role in ROLES}),
    "help": ("HELP", EVERYONE), "stop": ("STOP", EVERYONE), "start": ("START", EVERYONE),
    "yes": ("YES", EVERYONE), "price": ("PRICE MAIZE NAKURU", EVERYONE),
    "standards": ("STD MAIZE", EVERYONE), "reg": ("REG NAKURU", EVERYONE),
    "lang": ("LANG EN", EVERYONE), "sub": ("SUB MAIZE NAKURU", EVERYONE),
    "unsub": ("UNSUB MAIZE", EVERYONE), "my": ("MY", EVERYONE),
    "join": ("JOIN PWANI", EVERYONE), "leave": ("LEAVE KISU", EVERYONE),
    "forget": ("FORGET", EVERYONE),
}


@pytest.fixture
def config(kenya_db, tmp_path):
    return kenya_config(kenya_db, tmp_path, **{"limits.confirm_above_segments": 10})


def test_every_command_has_a_row():
    names = {command.name for command in build_router().commands()}
    assert names == set(TABLE), f"add a row for {names - set(TABLE)}; drop {set(TABLE) - names}"


@pytest.mark.parametrize("command", sorted(name for name, (_, rule) in TABLE.items()
                                           if rule != EVERYONE))
@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_may_do_only_what_it_is_allowed(client, conn, command, role):
    setup_groups(conn)
    code = say(client, "ORDER 100 BAGS MAIZE AT NAKURU", BUYER).split()[1].rstrip(":")
    text, rules = TABLE[command]
    before = conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    queued = conn.execute("SELECT COUNT(*) FROM outbox WHERE inbound_id IS NULL").fetchone()[0]
    reply = say(client, text.format(code=code), ROLES[role])
    refusal = rules[role]
    if refusal is None:
        assert not reply.startswith(("Only", f"Order {code} is for", f"Order {code} was not")), (
            role, reply)
    else:
        assert reply.startswith(refusal.format(code=code)), (role, reply)
        # A refusal changes nothing: no audit row, nothing queued for anyone.
        assert conn.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == before
        assert conn.execute("SELECT COUNT(*) FROM outbox WHERE inbound_id IS NULL"
                            ).fetchone()[0] == queued


@pytest.mark.parametrize("role", sorted(ROLES))
def test_commands_for_everyone_refuse_no_role(client, conn, role):
    setup_groups(conn)
    last = ["stop", "yes", "start"]   # after STOP only YES/START are answered
    for name in sorted(set(TABLE) - set(last)) + last:
        text, rule = TABLE[name]
        if rule == EVERYONE:
            reply = say(client, text, ROLES[role])
            assert not reply.startswith("Only"), (name, role, reply)
