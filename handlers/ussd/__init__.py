"""USSD menus: pages over the same commands as SMS, moved through one input per hop.

`menu` holds the building blocks and the home-menu registry that features add themselves
to; `engine` turns (stored state, the provider's cumulative input) into the next screen;
`layout` fits a screen into 182 GSM-7 characters. The feature pages are `prices`,
`standards` and `profile`; `handlers.registry.build_menu()` assembles them.
"""

from handlers.ussd.engine import Screen, State, answer, home
from handlers.ussd.menu import Finish, Go, Item, Menu, MenuEntry, Page, Retry, View

__all__ = ["Finish", "Go", "Item", "Menu", "MenuEntry", "Page", "Retry", "Screen", "State",
           "View", "answer", "home"]
