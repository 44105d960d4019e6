"""Every command word, per language, in one table: opt-out, opt-in and help keywords, and
the keywords of each command (the first word of a message).

A word means one thing whatever the language: tests/test_keywords.py checks that no word
of one command is a word of another, an opt-out or opt-in word, or a word the ORDER grammar
reads inside a message. Commands take their words from COMMANDS by name; adding a command
means adding its row here first.

Opt-out, opt-in and help keywords are matched on a single-word message only.

English follows Twilio's and the CTIA's default sets (see shared reference, section 5).
French: ARRET / ARRETE (Twilio and AWS also treat these as opt-out), DESABONNER, STOP stays
valid. Swahili: ACHA ("stop, leave off"), SITISHA ("suspend"), KOMESHA ("put an end to");
ANZA ("start"), NDIYO ("yes"); MSAADA ("help"), SAIDIA ("help me"). Words are stored
folded (upper case, no accents), as handlers.words.fold() produces them.
"""

from __future__ import annotations

OPT_OUT = {
    "en": frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}),
    "fr": frozenset({"ARRET", "ARRETE", "ARRETER", "DESABONNER", "DESINSCRIRE", "STOP"}),
    "sw": frozenset({"ACHA", "SITISHA", "KOMESHA"}),
}
OPT_IN = {
    "en": frozenset({"START", "YES", "UNSTOP"}),
    "fr": frozenset({"DEMARRER", "REPRENDRE", "OUI", "START"}),
    "sw": frozenset({"ANZA", "NDIYO"}),
}
# The opt-in words that also mean "yes" (they confirm a leader's broadcast when one waits).
YES = {"en": frozenset({"YES"}), "fr": frozenset({"OUI"}), "sw": frozenset({"NDIYO"})}
HELP = {
    "en": frozenset({"HELP", "INFO"}),
    "fr": frozenset({"AIDE"}),
    "sw": frozenset({"MSAADA", "SAIDIA"}),
}


def _words(en: str, sw: str, fr: str) -> dict[str, frozenset[str]]:
    return {"en": frozenset(en.split()), "sw": frozenset(sw.split()), "fr": frozenset(fr.split())}


# The first word of a message, per command. Words to avoid for new commands (they already
# mean something): ACCEPT and KUBALI (APPROVE), ONDOA and RETIRER (UNSUB), FUATA and SUIVRE
# (SUB), CANCEL and END (opt out), YES, OUI, NDIYO (confirm).
COMMANDS: dict[str, dict[str, frozenset[str]]] = {
    "price": _words("PRICE PRICES", "BEI", "PRIX"),
    "reg": _words("REG REGISTER MARKET", "SAJILI SOKO", "INSCRIRE MARCHE"),
    "lang": _words("LANG LANGUAGE", "LUGHA", "LANGUE"),
    "std": _words("STD STANDARD STANDARDS", "STD VIWANGO KIWANGO", "STD NORME NORMES"),
    "sub": _words("SUB SUBSCRIBE FOLLOW", "FUATA", "SUIVRE ABONNER"),
    "unsub": _words("UNSUB UNFOLLOW", "ONDOA", "RETIRER"),
    "my": _words("MY MINE", "ZANGU", "MES"),
    "join": _words("JOIN", "JIUNGE", "REJOINDRE ADHERER"),
    "leave": _words("LEAVE", "TOKA", "QUITTER"),
    "approve": _words("APPROVE ACCEPT", "KUBALI", "APPROUVER"),
    "bcast": _words("BCAST BROADCAST", "TANGAZA", "DIFFUSER"),
    "order": _words("ORDER", "AGIZO", "COMMANDE"),
    "fwd": _words("FWD FORWARD", "SAMBAZA", "TRANSFERER"),
    "offer": _words("OFFER PLEDGE", "AHADI", "OFFRE"),
    "close": _words("CLOSE", "FUNGA", "FERMER"),
    "forget": _words("FORGET", "SAHAU", "OUBLIER"),
    "rpt": _words("RPT REPORT", "RIPOTI", "RELEVE"),
    "pool": _words("POOL", "CHANGA", "GROUPAGE"),
    "supply": _words("SUPPLY", "UGAVI", "TARIF"),
    # Produce for sale (handlers.listings, bids, wants). UZA "sell", NUNUA "buy", TAKA
    # "want", ORODHA "list", IMEUZWA "it is sold", FUTA "delete", RIDHIA "consent", KATAA
    # "refuse"; VENDRE, ACHETER, CHERCHE "I look for", LISTE, VENDU, RETRAIT "withdrawal",
    # ACCORD "agreed", REFUSER. AGREE/DECLINE answer a bid, so they are not YES or ACCEPT.
    "sell": _words("SELL", "UZA", "VENDRE VENDS"),
    "buy": _words("BUY BID", "NUNUA", "ACHETER ACHETE"),
    "want": _words("WANT", "TAKA", "CHERCHE CHERCHER"),
    "list": _words("LIST", "ORODHA", "LISTE"),
    "sold": _words("SOLD", "IMEUZWA", "VENDU"),
    "withdraw": _words("WITHDRAW", "FUTA", "RETRAIT"),
    "agree": _words("AGREE DEAL", "RIDHIA", "ACCORD"),
    "decline": _words("DECLINE REFUSE", "KATAA", "REFUSER"),
}


def words(command: str) -> dict[str, frozenset[str]]:
    """A command's keywords per language, from COMMANDS."""
    return COMMANDS[command]


def all_words(table: dict[str, frozenset[str]]) -> frozenset[str]:
    """Every keyword of a table, whatever its language."""
    return frozenset().union(*table.values())
