"""Simulated and real contacts never mix (issue 17): nothing the simulator's contacts do
reaches a real phone through a paying provider, at once or later."""

from __future__ import annotations

import pytest
from support import e164, kenya_config

import db
from db import contacts
from db.timeutil import utcnow
from handlers.notify import Outbox

BUYER, SIM_BUYER, LEADER = "0700000001", "0799000003", "0711000001"


@pytest.fixture
def config(kenya_db, tmp_path):
    return kenya_config(kenya_db, tmp_path, **{"providers.default": "twilio"})


# ------------------------------------------------------------------ the rule where rows are made


def test_every_message_to_other_people_names_what_it_is_about(conn):
    """handlers.notify.Outbox cannot be made without `about`: no caller forgets the rule."""
    with pytest.raises(TypeError):
        Outbox(conn, {}, utcnow(), "order")   # type: ignore[call-arg]


def test_a_message_about_a_simulated_contacts_doing_goes_local_to_anyone(conn):
    with db.transaction(conn):
        sim_buyer = contacts.simulated(conn, e164(SIM_BUYER))
        buyer = contacts.get_or_create(conn, e164(BUYER))
        leader = contacts.get_or_create(conn, e164(LEADER))
        for about in (sim_buyer.id, buyer.id, None):
            db.outbox.enqueue_many(
                conn, [db.outbox.Outgoing(leader.id, leader.phone, f"about {about}", "GSM-7", 1)],
                provider="twilio", kind="order", not_before=utcnow(), now=utcnow(), about=about)
    providers = dict(conn.execute("SELECT text, provider FROM outbox"))
    assert providers == {f"about {sim_buyer.id}": "local", f"about {buyer.id}": "twilio",
                         "about None": "twilio"}
