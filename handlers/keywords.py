"""Opt-out, opt-in and help keywords per language, matched on a single-word message only.

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


def all_words(table: dict[str, frozenset[str]]) -> frozenset[str]:
    """Every keyword of a table, whatever its language."""
    return frozenset().union(*table.values())
