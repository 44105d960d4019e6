"""USSD transcripts over the real Kenya prices and the shipped standards, in every language,
and a walk of the whole menu tree that checks every screen."""

from __future__ import annotations

import itertools
import json
import shutil
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import make_config, outbox_rows, post_at
from defaults import full_settings

import db
from db import contacts
from handlers.messages import Context
from handlers.registry import build_menu
from handlers.segments import count
from handlers.ussd.engine import advance, home
from prices import quotes
from prices.catalog import catalog_for, load_aliases
from prices.importer import import_prices
from prices.standards import import_standards
from smsgw.app import create_app

ROOT = Path(__file__).resolve().parent.parent
USSD = "/webhooks/africastalking/ussd"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
_sessions = itertools.count()

# What each language shows; the price is the same answer PRICE MAIZE NAKURU sends by SMS.
WORDS = {
    "en": {"language": "English", "lang_done": "You will now get replies in English.",
           "home": "Welcome. Reply with a number:", "prices": "Market prices",
           "standards": "Buyer standards", "market": "My market", "maize": "Maize",
           "products": "Prices: pick a product or type its name",
           "markets": "Maize: pick a market or type its name",
           "answer": "Maize, Nakuru, 15 Apr 2022: wholesale KES 35.88/kg (up 0.57 since 15 Mar 2022).",
           "sms": "Send by SMS", "sent": "Sent. You will get it by SMS shortly.",
           "invalid": "Invalid choice.", "start": "This is the main menu.",
           "nav1": "98 More  0 Back", "nav2": "98 More  0 Back  00 Home",
           "not_found": "Not found, try again.", "which": "Which one?",
           "best": "Best prices", "mine": "My market: Nakuru", "yes": "Yes",
           "reg_done": "Your market is now {}. Send PRICE MAIZE for its maize price.",
           "std_start": "MAIZE, East Africa Exchange grades", "source": "Src: EAX"},
    "sw": {"language": "Kiswahili", "lang_done": "Sasa utapokea majibu kwa Kiswahili.",
           "home": "Karibu. Jibu kwa namba:", "prices": "Bei za soko",
           "standards": "Viwango vya wanunuzi", "market": "Soko langu", "maize": "Mahindi",
           "products": "Bei: chagua bidhaa au andika jina lake",
           "markets": "Mahindi: chagua soko au andika jina lake",
           "answer": "Mahindi, Nakuru, 15 Apr 2022: jumla KES 35.88/kg (juu 0.57 tangu 15 Mac 2022).",
           "sms": "Tuma kwa SMS", "sent": "Imetumwa. Utaipata kwa SMS punde.",
           "invalid": "Chaguo si sahihi.", "start": "Hii ndiyo menyu kuu.",
           "nav1": "98 Zaidi  0 Rudi", "nav2": "98 Zaidi  0 Rudi  00 Mwanzo",
           "not_found": "Haikupatikana, jaribu tena.", "which": "Ipi?",
           "best": "Bei za juu", "mine": "Soko langu: Nakuru", "yes": "Ndiyo",
           "reg_done": "Soko lako sasa ni {}. Tuma BEI MAHINDI kupata bei ya mahindi huko.",
           "std_start": "Kwa Kiingereza: MAIZE, East Africa Exchange grades",
           "source": "Chanzo: EAX"},
    "fr": {"language": "Francais", "lang_done": "Vous recevrez maintenant les réponses en francais.",
           "home": "Bienvenue. Répondez par un numéro:", "prices": "Prix des marchés",
           "standards": "Normes des acheteurs", "market": "Mon marché", "maize": "Mais",
           "products": "Prix: choisissez un produit ou tapez son nom",
           "markets": "Mais: choisissez un marché ou tapez son nom",
           "answer": "Mais, Nakuru, 15 avr. 2022: gros KES 35,88/kg (hausse 0,57 depuis 15 mars 2022).",
           "sms": "Recevoir par SMS", "sent": "Envoyé. Vous le recevrez bientot par SMS.",
           "invalid": "Choix invalide.", "start": "Ceci est le menu principal.",
           "nav1": "98 Suite  0 Retour", "nav2": "98 Suite  0 Retour  00 Accueil",
           "not_found": "Introuvable, réessayez.", "which": "Lequel?",
           "best": "Meilleurs prix", "mine": "Mon marché: Nakuru", "yes": "Oui",
           "reg_done": "Votre marché est maintenant {}. Envoyez PRIX MAIS pour son prix du mais.",
           "std_start": "En anglais: MAIZE, East Africa Exchange grades", "source": "Source: EAX"},
}
LANGUAGES = sorted(WORDS)


@pytest.fixture(scope="module")
def kenya_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ussd") / "kenya.db"
    conn = db.connect(path)
    db.migrate(conn)
    with db.transaction(conn):
        load_aliases(conn)
    import_prices(conn, ROOT / "data" / "wfp_food_prices_ken.csv", country="KE")
    import_standards(conn, ROOT / "prices" / "data" / "standards.toml")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


@pytest.fixture
def client(kenya_db, tmp_path, clock):
    shutil.copy(kenya_db, tmp_path / "test.db")
    return create_app(make_config(tmp_path), clock=clock).test_client()


@pytest.fixture
def conn(client, tmp_path):
    connection = db.connect(tmp_path / "test.db")
    yield connection
    connection.close()


def checked(body: str) -> str:
    """Every screen: CON/END, at most 182 GSM-7 characters after the prefix."""
    assert body.startswith(("CON ", "END ")), body
    info = count(body[4:])
    assert info.encoding == "GSM-7", body
    assert info.units <= 182, (info.units, body)
    return body


class Phone:
    """A feature phone dialling the service code: each press adds to the cumulative text."""

    def __init__(self, client, number: str = "+254722123456") -> None:
        self.client, self.number = client, number
        self.session, self.typed = "", []

    def dial(self, *entries: str) -> str:
        self.session, self.typed = f"ATUid_{next(_sessions):032x}", []
        body = self._send("")
        for entry in entries:
            body = self.press(entry)
        return body

    def press(self, entry: str) -> str:
        self.typed.append(entry)
        return self._send("*".join(self.typed))

    def again(self) -> str:
        """The provider repeats the last request."""
        return self._send("*".join(self.typed))

    def _send(self, text: str) -> str:
        form = {"sessionId": self.session, "serviceCode": "*384*1234#",
                "phoneNumber": self.number, "networkCode": "63902", "text": text}
        response = post_at(self.client, USSD, form)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.content_type == "text/plain; charset=utf-8"
        return checked(response.get_data(as_text=True))


def number(body: str, label: str) -> str:
    """The number in front of a line `N. label` of a screen."""
    for line in body.split("\n"):
        head, _, rest = line.partition(". ")
        if head.isdigit() and rest == label:
            return head
    raise AssertionError(f"{label!r} is not a choice on:\n{body}")


def choices(body: str) -> list[str]:
    return [line.partition(". ")[2] for line in body.split("\n")
            if line.partition(". ")[0].isdigit()]


def speak(phone: Phone, language: str) -> None:
    """Choose the language through the menu (an END screen in it, and the same by SMS)."""
    words = WORDS[language]
    at_languages = phone.dial("4")
    assert phone.press(number(at_languages, words["language"])) == "END " + words["lang_done"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_whole_price_session_in_each_language(client, conn, language):
    words, phone = WORDS[language], Phone(client)
    speak(phone, language)
    start = phone.dial()
    assert start.split("\n")[:4] == ["CON " + words["home"], "1. " + words["prices"],
                                     "2. " + words["standards"], "3. " + words["market"]]
    assert phone.press("0") == f"CON {words['start']}\n" + start[4:]      # back past the start
    assert phone.press("7") == f"CON {words['invalid']}\n" + start[4:]    # no such line
    products = phone.press(number(start, words["prices"]))
    assert products.startswith(f"CON {words['products']}\n1. ")
    assert products.endswith("\n" + words["nav1"]) and words["maize"] in choices(products)
    more = phone.press("98")
    assert more.endswith("\n" + words["nav2"])
    assert not set(choices(more)) & set(choices(products))
    assert phone.press("00") == start                                      # home
    assert phone.press(number(start, words["prices"])) == products
    assert phone.press("98") == more
    assert phone.press("0") == products                                    # back one page
    markets = phone.press(number(products, words["maize"]))
    assert markets.startswith(f"CON {words['markets']}\n1. {words['best']}\n")
    answer = phone.press("NAKRU")                                          # typed, with a typo
    assert answer.startswith("CON " + words["answer"])
    assert f"\n1. {words['sms']}" in answer
    assert phone.again() == answer                                         # a repeated request
    sent = phone.press("1")
    assert sent == "END " + words["sent"]
    assert phone.again() == sent
    texts = [r["text"] for r in outbox_rows(conn)]
    assert texts == [words["lang_done"], words["answer"] + texts[1][len(words["answer"]):]]
    assert texts[1].startswith(words["answer"])   # the answer by SMS, once


@pytest.mark.parametrize("language", LANGUAGES)
def test_registering_a_market_in_each_language(client, conn, language):
    words, phone = WORDS[language], Phone(client)
    speak(phone, language)
    asked = phone.dial(number(phone.dial(), words["market"]))
    assert phone.press("ZZZQX") == f"CON {words['not_found']}\n" + asked[4:]
    confirm = phone.press("WAKULIMA*NAKURU")        # a `*` typed inside the name
    assert confirm.split("\n")[1] == "1. " + words["yes"]
    assert "Wakulima (Nakuru)" in confirm.split("\n")[0]
    done = phone.press("1")
    assert done == "END " + words["reg_done"].format("Wakulima (Nakuru)")
    assert phone.again() == done
    assert [r["text"] for r in outbox_rows(conn)] == [words["lang_done"], done[4:]]
    contact = contacts.find(conn, "+254722123456")
    assert contacts.home_market(conn, contact.id) == quotes_market_id(conn, "Wakulima (Nakuru)")


def quotes_market_id(conn, name: str) -> int:
    return next(m.id for m in catalog_for(conn).markets.items.values() if m.name == name)


@pytest.mark.parametrize("language", LANGUAGES)
def test_standards_are_paged_to_the_end_in_each_language(client, conn, language):
    words, phone = WORDS[language], Phone(client)
    speak(phone, language)
    listed = phone.dial(number(phone.dial(), words["standards"]))
    page = phone.press(number(listed, words["maize"]))
    pages = [page]
    while "\n98 " in page:
        page = phone.press("98")
        pages.append(page)
    assert len(pages) >= 2 and pages[0].startswith("CON " + words["std_start"])
    assert choices(pages[-1]) == [words["sms"]]
    assert "\n" + words["source"] in "".join(pages)   # texts only in English; the source line
    assert phone.press("1") == "END " + words["sent"]
    bulletin = outbox_rows(conn)[-1]
    assert bulletin["text"].startswith(words["std_start"]) and bulletin["segments"] >= 2
    shown = " ".join(p[4:].rsplit("\n", 1)[0] for p in pages).split()
    assert " ".join(shown).startswith(" ".join(bulletin["text"].split()[:40]))


def test_the_registered_market_comes_first_then_the_nearest(client, conn):
    phone = Phone(client)
    phone.dial("3", "NAKURU", "1")
    markets = phone.dial("1", "2")
    listed = choices(markets)
    assert listed[:2] == ["My market: Nakuru", "Best prices"]
    places = {p.name: p for p in quotes.markets_with_data(conn, range(1, 200), limit=500)}
    nakuru = places["Nakuru"]
    pages = [listed[2:]]
    while "\n98 " in markets:
        markets = phone.press("98")
        pages.append(choices(markets))
    names = [name for page in pages for name in page]
    distances = [quotes.distance_km(nakuru, place(places, n)) for n in names]
    assert len(names) > 20 and None not in distances
    assert distances == sorted(distances)


def place(places: dict[str, quotes.Place], label: str) -> quotes.Place:
    """The market a list line names (a long name is cut with '...')."""
    if label.endswith("..."):
        return next(p for name, p in places.items() if name.startswith(label[:-3]))
    return places[label]


def test_without_a_registered_market_the_most_reported_come_first(client, conn):
    listed = choices(Phone(client).dial("1", "2"))
    assert listed[0] == "Best prices"
    assert listed[1:4] == ["Eldoret town (Uasin Gishu)", "Nairobi", "Kisumu"]


def test_best_prices_is_the_price_reply_without_a_market(client, clock):
    phone = Phone(client)
    # The clock is 2026-11-23 and the file's newest maize prices are from spring 2026.
    assert phone.dial("1", "2", "1").startswith("CON No Maize price in the last 62 days.")
    clock.now = clock.now.replace(year=2026, month=4, day=20)
    answer = Phone(client).dial("1", "2", "1")
    assert answer.startswith("CON Maize best recent ")


def test_names_typed_in_swahili_and_names_that_are_unclear(client):
    phone = Phone(client)
    speak(phone, "sw")
    assert phone.dial("1", "MAHINDI").startswith("CON Mahindi: chagua soko")
    which = phone.dial("1", "BEEN")
    assert which.startswith("CON Ipi?\n1. ")
    assert choices(which) == ["Maharagwe", "Nyama (ng'ombe)"]
    assert phone.press("2").startswith("CON Nyama (ng'ombe): chagua soko")
    places = phone.dial("1", "2", "TURKANA")
    # TURKANA names the county: its markets, the one named after it first.
    assert choices(places)[0] == "Lodwar (Turkana)" and "Alemsekon" in choices(places)
    assert phone.press("1").startswith("CON Mahindi, Lodwar (Turkana)")


def test_home_from_deep_inside_and_a_shortcut_dial(client):
    phone = Phone(client)
    start = phone.dial()
    phone.dial("1", "2", "98", "3")
    assert phone.press("00") == start
    direct = Phone(client)
    direct.session, direct.typed = "ATUid_shortcut", ["1", "2"]
    assert direct.again().startswith("CON Maize: pick a market")   # `*384*1234*1*2#`


def test_a_new_session_from_the_same_phone_starts_again(client):
    phone = Phone(client)
    phone.dial("1", "2")
    old_session, old_typed = phone.session, list(phone.typed)
    assert phone.dial() == Phone(client).dial()
    phone.session, phone.typed = old_session, old_typed
    assert phone.press("3") == "END This session has ended. Please dial again."


# ----------------------------------------------------------------- the whole tree

TYPED_SAMPLES = ("NAKURU", "TURKANA", "BEEN", "MAHINDI", "ZZZQX", "5*0", "groundnuts")
HOME_MARKETS = {"en": None, "sw": "Nakuru", "fr": "Eldoret town (Uasin Gishu)"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_screen_of_the_menu_tree_fits_and_is_gsm7(kenya_db, tmp_path, language):
    """Every page the menu can reach (each list page, each product at each market, each
    bulletin page) after every kind of input, with a wrong choice and back/home on each."""
    shutil.copy(kenya_db, tmp_path / "tree.db")
    conn = db.connect(tmp_path / "tree.db")
    contact = contacts.get_or_create(conn, "+254722123456")
    if HOME_MARKETS[language]:
        contacts.set_home_market(conn, contact.id, quotes_market_id(conn, HOME_MARKETS[language]))
    contact = contacts.find(conn, contact.phone)
    menu, settings = build_menu(), full_settings()

    def ctx() -> Context:
        return Context(conn, contact, language, NOW, settings)

    first = home(menu, ctx())
    queue, seen, tried_once, screens = deque([first]), set(), set(), 1
    pages: set[str] = set()
    conn.execute("BEGIN")
    while queue:
        screen = queue.popleft()
        key = (screen.state.page, json.dumps(screen.state.params, sort_keys=True))
        if screen.end or key in seen:
            continue
        seen.add(key)
        pages.add(screen.state.page)
        entries = [str(n) for n in range(1, len(screen.state.options) + 1)] + ["99"]
        if screen.state.more is not None:
            entries.append("98")
        if screen.state.page not in tried_once:   # back, home and typed names: once a page
            tried_once.add(screen.state.page)
            entries += ["0", "00", *(TYPED_SAMPLES if screen.state.typed else ())]
        for entry in entries:
            conn.execute("SAVEPOINT walk")   # a registration or a language change is undone
            after = advance(menu, ctx(), screen.state, entry)
            conn.execute("ROLLBACK TO walk")
            conn.execute("RELEASE walk")
            checked(("END " if after.end else "CON ") + after.text)
            assert after.text.strip(), (key, entry)
            screens += 1
            queue.append(after)
    conn.execute("ROLLBACK")
    conn.close()
    assert pages == {"home", "price.commodity", "price.market", "price.answer", "std.product",
                     "std.show", "reg.market", "reg.confirm", "lang.choose", "alerts.home",
                     "alerts.product", "alerts.market", "alerts.confirm", "sell.home",
                     "sell.product", "sell.quantity", "sell.price", "sell.amount", "sell.market", "sell.confirm"}
    assert len(seen) > 1000 and screens > 2000   # every product at every market was shown
