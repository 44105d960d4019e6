"""What a USSD menu is made of: pages, the steps a choice leads to, and the home entries.

A page is three plain functions over (context, params): `view` says what the screen shows,
`chosen` what a numbered choice does, `typed` what free text does (a name, a quantity).
The engine (handlers.ussd.engine) does the rest for every page alike: numbering, fitting
the screen, `98` for more, `0` back, `00` home, the hint after a wrong choice.

Features add themselves to the home menu with `Menu.add_entry` (prices, standards, my
market and language are built in; subscriptions and orders register the same way).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from handlers.messages import Context

Params = Mapping[str, Any]   # JSON-safe: stored in the session between hops


class UnknownPage(KeyError):
    """A step names a page no feature registered (a bug in a page)."""


class DuplicateEntry(ValueError):
    """Two features register the same page or home entry name."""


@dataclass(frozen=True, slots=True)
class Item:
    """One numbered choice: what it says and what choosing it means (JSON-safe)."""

    label: str
    value: Any


@dataclass(frozen=True, slots=True)
class View:
    """What a screen shows. Long item lists and long bodies are paged with 98."""

    title: str = ""
    body: str = ""
    items: Sequence[Item] = ()
    typed: bool = False     # free text is accepted (names, quantities)
    end: bool = False       # nothing more to do here: answer END


@dataclass(frozen=True, slots=True)
class Go:
    """Show another page; 0 comes back to this one."""

    page: str
    params: Params = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Retry:
    """Show this page again with a short hint (a wrong choice, a name not found)."""

    hint: str


@dataclass(frozen=True, slots=True)
class Finish:
    """End the session on this text; `sms` are texts also sent to the contact by SMS."""

    text: str
    sms: tuple[str, ...] = ()


Step = Go | Retry | Finish
ViewFn = Callable[[Context, Params], View]
ChosenFn = Callable[[Context, Params, Any], Step]
TypedFn = Callable[[Context, Params, str], Step]


@dataclass(frozen=True, slots=True)
class Page:
    view: ViewFn
    chosen: ChosenFn | None = None
    typed: TypedFn | None = None


@dataclass(frozen=True, slots=True)
class MenuEntry:
    """A line of the home menu: its text key, the page it opens, where it sorts."""

    name: str
    label: str                                  # text key, e.g. "ussd_menu_prices"
    page: str
    order: int = 100
    visible: Callable[[Context], bool] | None = None   # None: always shown


HOME = "home"


class Menu:
    """Every page by name, and the home menu's entries."""

    def __init__(self) -> None:
        self._pages: dict[str, Page] = {HOME: Page(self._home_view, self._home_chosen)}
        self._entries: list[MenuEntry] = []

    def add_page(self, name: str, page: Page) -> None:
        """Register a page under a name steps can go to."""
        if name in self._pages:
            raise DuplicateEntry(f"page {name} is registered twice")
        self._pages[name] = page

    def add_entry(self, entry: MenuEntry) -> None:
        """Add a line to the home menu (its page must be registered, now or later)."""
        if any(e.name == entry.name for e in self._entries):
            raise DuplicateEntry(f"home entry {entry.name} is registered twice")
        self._entries.append(entry)
        self._entries.sort(key=lambda e: (e.order, e.name))

    def page(self, name: str) -> Page:
        """The page registered under a name."""
        try:
            return self._pages[name]
        except KeyError:
            raise UnknownPage(name) from None

    def entries(self, ctx: Context) -> list[MenuEntry]:
        """The home entries this contact sees, in order."""
        return [e for e in self._entries if e.visible is None or e.visible(ctx)]

    def _home_view(self, ctx: Context, params: Params) -> View:
        items = [Item(ctx.t(e.label), e.name) for e in self.entries(ctx)]
        return View(title=ctx.t("ussd_home_title"), items=items)

    def _home_chosen(self, ctx: Context, params: Params, value: Any) -> Step:
        entry = next((e for e in self._entries if e.name == value), None)
        if entry is None:  # an entry that went away between two hops
            return Retry(ctx.t("ussd_invalid"))
        return Go(entry.page)
