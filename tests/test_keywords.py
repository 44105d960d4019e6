"""The one table of command words (handlers/keywords.py): a word means one thing, whatever
the language, and every registered command takes its words from the table."""

from __future__ import annotations

from handlers import keywords
from handlers.order_grammar import AT_WORDS, BY_WORDS, GRADE_WORDS
from handlers.registry import build_router

OPT_SETS = {"opt out": keywords.OPT_OUT, "opt in": keywords.OPT_IN, "help": keywords.HELP}


def owners() -> dict[str, set[str]]:
    """Each word and the commands (or opt-out, opt-in, help sets) that claim it."""
    found: dict[str, set[str]] = {}
    for name, table in {**keywords.COMMANDS, **OPT_SETS}.items():
        for word in keywords.all_words(table):
            found.setdefault(word, set()).add(name)
    return found


def test_no_word_means_two_things_in_any_language():
    clashes = {word: names for word, names in owners().items() if len(names) > 1}
    assert not clashes, clashes


def test_no_command_word_is_read_inside_an_order():
    markers = set(AT_WORDS) | set(BY_WORDS) | set(GRADE_WORDS)
    assert not markers & set(owners())


def test_no_command_word_is_read_inside_a_report():
    from handlers.report_grammar import CURRENCY_WORDS, PRICE_TYPES

    assert not (set(PRICE_TYPES) | CURRENCY_WORDS) & set(owners())


def test_every_command_registered_takes_its_words_from_the_table():
    router = build_router()
    table = {name: keywords.all_words(words) for name, words in
             {**keywords.COMMANDS, **OPT_SETS}.items()}
    for command in router.commands():
        claimed = keywords.all_words(dict(command.keywords))
        assert any(claimed <= words for words in table.values()), \
            f"{command.name} claims words not in handlers/keywords.py: {sorted(claimed)}"


def test_list_no_longer_means_my():
    assert not {"LIST", "LISTE"} & keywords.all_words(keywords.COMMANDS["my"])


def test_every_command_has_a_one_sms_help_text_in_every_language():
    from handlers.segments import count
    from handlers.texts import LANGUAGES, text

    names = [*keywords.COMMANDS, "stop", "start", "yes", "help"]
    for language in LANGUAGES:
        for name in names:
            explained = text(language, f"help_{name}")
            assert count(explained).segments == 1, (language, name, explained)


def test_no_command_word_is_read_inside_a_pool_or_an_offer():
    from handlers.pool_grammar import FROM_WORDS, PACK_UNITS

    assert not (set(FROM_WORDS) | set(PACK_UNITS)) & set(owners())


def test_help_names_the_commands_for_selling_and_buying_together_in_every_language():
    from handlers.texts import LANGUAGES, text

    for language in LANGUAGES:
        said = text(language, "help").split()
        for command in ("sell", "buy", "list", "pool", "order", "offer"):
            named = keywords.COMMANDS[command][language] & {w.strip(".:,") for w in said}
            assert named, (language, command)
