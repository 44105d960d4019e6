"""The USSD engine over a made-up menu: numbering, 98/0/00, hints, `*` in free input, fitting.

These pin down the conventions every page gets for free, with no price data involved;
tests/test_ussd_menu.py walks the real menu over the real Kenya data.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from defaults import full_settings

from db import contacts
from handlers.messages import Context
from handlers.registry import build_menu
from handlers.segments import count
from handlers.ussd import Finish, Go, Item, Menu, MenuEntry, Page, Retry, State, View
from handlers.ussd.engine import advance, answer, home, new_input
from handlers.ussd.layout import gsm_safe, size
from handlers.ussd.menu import DuplicateEntry, UnknownPage

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LONG_BODY = " ".join(f"word{n:03d}" for n in range(90))   # 719 characters, 4+ screens
TYPED: list[str] = []


def _list_view(ctx, params):
    return View(title="Pick one", items=[Item(f"Thing {n}", n) for n in range(1, 31)], typed=True)


def _list_typed(ctx, params, text):
    TYPED.append(text)
    return Retry("No such thing.") if text == "nothing" else Go("detail", {"n": text})


def _detail_view(ctx, params):
    return View(title=f"Thing {params['n']}", body=LONG_BODY, items=[Item("Do it", "do")])


def _quantity_typed(ctx, params, text):
    TYPED.append(text)
    return Finish(f"You pledged {text}.", sms=(f"Pledge {text} noted.",))


def made_up_menu() -> Menu:
    menu = Menu()
    menu.add_page("list", Page(_list_view, lambda ctx, p, v: Go("detail", {"n": v}), _list_typed))
    menu.add_page("detail", Page(_detail_view, lambda ctx, p, v: Finish("Done.", sms=("done",))))
    menu.add_page("qty", Page(lambda ctx, p: View(title="How many bags?", typed=True),
                              typed=_quantity_typed))
    menu.add_entry(MenuEntry("qty", "ussd_menu_market", "qty", order=20))
    menu.add_entry(MenuEntry("list", "ussd_menu_prices", "list", order=10))
    menu.add_entry(MenuEntry("hidden", "ussd_menu_language", "list", order=5,
                             visible=lambda ctx: False))
    return menu


@pytest.fixture
def ctx(conn):
    TYPED.clear()
    contact = contacts.get_or_create(conn, "+254722123456")
    return Context(conn, contact, "en", NOW, full_settings())


def lines(text: str) -> list[str]:
    return text.split("\n")


def check(text: str, width: int = 182) -> str:
    info = count(text)
    assert info.encoding == "GSM-7" and info.units <= width, (info, text)
    return text


def walk(menu, ctx, *entries):
    screen = home(menu, ctx)
    for entry in entries:
        screen = advance(menu, ctx, screen.state, entry)
        check(screen.text)
    return screen


def test_home_lists_visible_entries_in_order(ctx):
    screen = home(made_up_menu(), ctx)
    assert lines(screen.text) == ["Welcome. Reply with a number:", "1. Market prices",
                                  "2. My market"]
    assert screen.state.options == ("list", "qty") and not screen.end


def test_numbers_more_back_and_home(ctx):
    menu = made_up_menu()
    first = walk(menu, ctx, "1")
    assert lines(first.text)[0] == "Pick one" and "1. Thing 1" in first.text
    assert lines(first.text)[-1] == "98 More  0 Back"
    shown = len(first.state.options)
    second = advance(menu, ctx, first.state, "98")
    assert lines(second.text)[1] == f"1. Thing {shown + 1}"        # numbering restarts per page
    assert lines(second.text)[-1] == "98 More  0 Back  00 Home"
    picked = advance(menu, ctx, second.state, "2")
    assert lines(picked.text)[0] == f"Thing {shown + 2}"
    assert advance(menu, ctx, picked.state, "0").text == second.text
    assert advance(menu, ctx, second.state, "0").text == first.text
    assert advance(menu, ctx, picked.state, "00").text == home(menu, ctx).text


def test_every_item_is_reachable_once_through_the_pages(ctx):
    menu = made_up_menu()
    screen, seen = walk(menu, ctx, "1"), []
    while True:
        seen += list(screen.state.options)
        if screen.state.more is None:
            break
        screen = advance(menu, ctx, screen.state, "98")
    assert seen == list(range(1, 31))
    assert "98" not in screen.text


@pytest.mark.parametrize("entry", ["9", "31", "x", "", "98", " ", "1*", "-1"])
def test_a_wrong_choice_repeats_the_screen_with_a_hint(ctx, entry):
    menu = made_up_menu()
    before = home(menu, ctx)
    after = advance(menu, ctx, before.state, entry)
    assert not after.end
    assert lines(after.text) == ["Invalid choice.", *lines(before.text)]
    assert after.state.options == before.state.options


def test_back_past_the_start_stays_home_with_a_hint(ctx):
    menu = made_up_menu()
    screen = walk(menu, ctx, "0")
    assert lines(screen.text)[0] == "This is the main menu." and not screen.end
    assert lines(walk(menu, ctx, "1", "0", "0", "0").text)[0] == "This is the main menu."
    assert walk(menu, ctx, "1", "0", "0", "0", "1").state.page == "list"


def test_typed_text_goes_to_the_page_and_a_miss_gets_its_hint(ctx):
    menu = made_up_menu()
    assert lines(walk(menu, ctx, "1", "nothing").text)[0] == "No such thing."
    assert lines(walk(menu, ctx, "1", "blue").text)[0] == "Thing blue"
    assert TYPED == ["nothing", "blue"]


def test_a_star_typed_in_free_input_stays_in_the_input(ctx):
    menu = made_up_menu()
    at_quantity = walk(menu, ctx, "2")
    screen = answer(menu, ctx, at_quantity.state, "2", "2*5*0")
    assert TYPED == ["5*0"] and screen.end and screen.text == "You pledged 5*0."
    assert screen.sms == ("Pledge 5*0 noted.",)


def test_digits_on_a_page_without_numbers_are_free_input(ctx):
    screen = walk(made_up_menu(), ctx, "2", "98")   # a quantity of 98 is not "more"
    assert screen.text == "You pledged 98."


@pytest.mark.parametrize("last,text,expected", [
    ("", "", ""), ("", "1", "1"), ("", "1*2", "1*2"), ("1", "1*2", "2"),
    ("1*2", "1*2*NAKURU*X", "NAKURU*X"), ("1*2", "1*2*", ""), ("1", "2*1", None),
    ("1*2", "1*3", None), ("1*2", "1*2", None), ("12", "1*2*3", None),
])
def test_new_input_is_what_follows_the_stored_text(last, text, expected):
    assert new_input(last, text) == expected


def test_a_session_without_state_is_replayed_from_home(ctx):
    menu = made_up_menu()
    screen = answer(menu, ctx, None, "", "1*3")
    assert lines(screen.text)[0] == "Thing 3"
    assert answer(menu, ctx, None, "", "").text == home(menu, ctx).text
    done = answer(menu, ctx, None, "", "1*3*98*98*98*98*98*1*5")
    assert done.end and done.text == "Done."   # input after the end is ignored


def test_a_request_that_does_not_continue_the_state_is_replayed(ctx):
    menu = made_up_menu()
    stored = walk(menu, ctx, "1", "4").state
    assert lines(answer(menu, ctx, stored, "1*4", "1*5").text)[0] == "Thing 5"


def test_a_long_body_is_paged_with_98_and_the_choices_come_last(ctx):
    menu = made_up_menu()
    screen, pages = walk(menu, ctx, "1", "1"), []
    while screen.state.more is not None:
        assert not screen.state.options and lines(screen.text)[-1].startswith("98 More")
        pages.append(screen.text)
        screen = advance(menu, ctx, screen.state, "98")
    pages.append(screen.text)
    assert len(pages) >= 4 and screen.state.options == ("do",)
    words = " ".join(pages).split()
    assert [w for w in words if w.startswith("word")] == LONG_BODY.split()  # nothing lost
    done = advance(menu, ctx, screen.state, "1")
    assert done.end and done.text == "Done." and done.sms == ("done",)


def test_finished_state_is_ended_and_keeps_nothing_to_choose(ctx):
    done = walk(made_up_menu(), ctx, "2", "3")
    assert done.end and done.state.ended and done.state.options == ()


def test_narrower_screens_are_respected(ctx):
    ctx.settings = full_settings({"ussd.screen_chars": 100})
    menu = made_up_menu()
    screen = walk(menu, ctx, "1")
    while screen.state.more is not None:
        check(screen.text, 100)
        screen = advance(menu, ctx, screen.state, "98")
    for text in (walk(menu, ctx, "1", "1").text, walk(menu, ctx, "1", "x").text):
        check(text, 100)


def test_state_round_trips_and_a_damaged_one_starts_at_home(ctx):
    state = walk(made_up_menu(), ctx, "1", "98").state
    assert State.loads(state.dumps()) == state
    assert State.loads("{not json") == State() and State.loads('{"page": 1}') == State()


def test_names_outside_gsm7_are_folded_to_it():
    assert gsm_safe("Ségou, Kédougou, Niôro, Zürich, 北京") == "Ségou, Kédougou, Nioro, Zürich, ??"
    assert count(gsm_safe("çâêîôû")).encoding == "GSM-7"
    assert size("a[b]€") == count("a[b]€").units == 8


def test_features_register_pages_and_entries_once(ctx):
    menu = made_up_menu()
    with pytest.raises(DuplicateEntry):
        menu.add_page("list", Page(_list_view))
    with pytest.raises(DuplicateEntry):
        menu.add_entry(MenuEntry("list", "ussd_menu_prices", "list"))
    with pytest.raises(UnknownPage):
        menu.page("nowhere")


def test_a_new_feature_plugs_into_the_real_home_menu(ctx):
    """The extension point for subscriptions and orders: an entry and its pages."""
    menu = build_menu()
    menu.add_page("subs.list", Page(lambda c, p: View(title="You follow:",
                                                      items=[Item("Maize", "maize")]),
                                    lambda c, p, v: Finish(f"Stopped {v}.", sms=("bye",))))
    menu.add_entry(MenuEntry("subscriptions", "ussd_menu_standards", "subs.list", order=25))
    start = home(menu, ctx)
    assert [e.name for e in menu.entries(ctx)] == ["prices", "standards", "subscriptions",
                                                   "market", "language", "alerts", "sell"]
    number = start.state.options.index("subscriptions") + 1
    listed = advance(menu, ctx, start.state, str(number))
    assert lines(listed.text)[:2] == ["You follow:", "1. Maize"]
    done = advance(menu, ctx, listed.state, "1")
    assert done.end and done.text == "Stopped maize." and done.sms == ("bye",)


def test_a_very_long_way_back_still_ends_at_home(ctx):
    menu = Menu()
    menu.add_page("deep", Page(
        lambda c, p: View(title=f"Level {p.get('n', 1)}", items=[Item("On", 1)]),
        lambda c, p, v: Go("deep", {"n": p.get("n", 1) + 1})))
    menu.add_entry(MenuEntry("deep", "ussd_menu_prices", "deep"))
    start = home(menu, ctx)
    screen = start
    for _ in range(41):                        # home, then 41 levels: more than STACK_MAX
        screen = advance(menu, ctx, screen.state, "1")
    assert lines(screen.text)[0] == "Level 41" and len(screen.state.stack) == 20
    assert screen.state.stack[0] == ("home", {})
    for level in range(40, 21, -1):            # the last 19 levels are remembered
        screen = advance(menu, ctx, screen.state, "0")
        assert lines(screen.text)[0] == f"Level {level}"
    screen = advance(menu, ctx, screen.state, "0")
    assert screen.text == start.text           # then home, never a dead end
    assert lines(advance(menu, ctx, screen.state, "0").text)[0] == "This is the main menu."
