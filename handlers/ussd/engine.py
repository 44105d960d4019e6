"""Moving through a USSD menu, one input at a time, from the state stored between hops.

Africa's Talking sends the whole input of the session on every hop (`1*2*NAKURU`). The
state stored after each hop records the input it answers, so the next hop's input is what
follows it: a `*` typed inside a name stays part of the name. Only when a request does not
continue the stored input (a session we have not seen, started with a dialled shortcut
such as `*384*1234*1#`) is the input split on `*` and played from the home screen.

Conventions on every page: a number picks a line, `0` goes back (at home it stays, with a
hint), `00` goes home, `98` shows more; anything else is a wrong choice and the same
screen comes back with a short hint; the session does not end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from handlers.messages import Context
from handlers.ussd.layout import MAX_SCREEN, lay_out
from handlers.ussd.menu import HOME, Finish, Go, Menu, Retry, Step, View

BACK, HOME_KEY, MORE = "0", "00", "98"
STACK_MAX = 20            # screens remembered for 0; older ones are dropped
START = "_start"          # params key: where on a paged screen this page starts


@dataclass(frozen=True, slots=True)
class State:
    """Where a session is: the page, its params, the way back, and what the numbers mean."""

    page: str = HOME
    params: dict[str, Any] = field(default_factory=dict)
    stack: tuple[tuple[str, dict[str, Any]], ...] = ()
    options: tuple[Any, ...] = ()
    more: int | None = None
    typed: bool = False
    ended: bool = False

    def dumps(self) -> str:
        """The state as JSON for the session table."""
        return json.dumps({"page": self.page, "params": self.params,
                           "stack": [list(s) for s in self.stack], "options": list(self.options),
                           "more": self.more, "typed": self.typed, "ended": self.ended},
                          separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> State:
        """A state from its JSON (a damaged one starts again at home)."""
        try:
            raw = json.loads(text)
            return cls(raw["page"], dict(raw["params"]),
                       tuple((str(p), dict(a)) for p, a in raw["stack"]),
                       tuple(raw["options"]), raw["more"], bool(raw["typed"]),
                       bool(raw["ended"]))
        except (ValueError, KeyError, TypeError):
            return cls()


@dataclass(frozen=True, slots=True)
class Screen:
    """One answer: the text after CON/END, whether it ends the session, SMS to queue."""

    text: str
    end: bool
    state: State
    sms: tuple[str, ...] = ()


def width(ctx: Context) -> int:
    """How many GSM-7 characters a screen may hold (ussd.screen_chars, at most 182)."""
    return min(int(ctx.settings["ussd.screen_chars"]), MAX_SCREEN)


def render(menu: Menu, ctx: Context, page: str, params: dict[str, Any],
           stack: tuple[tuple[str, dict[str, Any]], ...], *, hint: str = "") -> Screen:
    """Show a page: ask it for its view, fit the view on the screen, remember the choices."""
    view = menu.page(page).view(ctx, params)
    laid = lay_out(ctx, view, start=int(params.get(START, 0)), hint=hint, depth=len(stack),
                   width=width(ctx))
    state = State(page, params, stack, tuple(laid.options), laid.more,
                  view.typed and not view.end, view.end)
    return Screen(laid.text, view.end, state)


def home(menu: Menu, ctx: Context, *, hint: str = "") -> Screen:
    """The first screen of every session."""
    return render(menu, ctx, HOME, {}, (), hint=hint)


def advance(menu: Menu, ctx: Context, state: State, entry: str) -> Screen:
    """The screen after one input on the screen `state` describes."""
    entry = entry.strip()
    if entry == HOME_KEY:
        return home(menu, ctx)
    if entry == BACK:
        if not state.stack:
            if state.page != HOME:   # the way back was longer than STACK_MAX screens
                return home(menu, ctx)
            return _again(menu, ctx, state, ctx.t("ussd_at_start"))
        page, params = state.stack[-1]
        return render(menu, ctx, page, params, state.stack[:-1])
    if entry == MORE and state.more is not None:
        return _go(menu, ctx, state, Go(state.page, {**state.params, START: state.more}))
    page = menu.page(state.page)
    if entry.isdigit() and state.options:  # a number on a list picks a line, nothing else
        number = int(entry)
        if 1 <= number <= len(state.options) and page.chosen is not None:
            return _step(menu, ctx, state, page.chosen(ctx, state.params,
                                                       state.options[number - 1]))
        return _again(menu, ctx, state, ctx.t("ussd_invalid"))
    if entry and state.typed and page.typed is not None:
        return _step(menu, ctx, state, page.typed(ctx, state.params, entry))
    return _again(menu, ctx, state, ctx.t("ussd_invalid"))


def _again(menu: Menu, ctx: Context, state: State, hint: str) -> Screen:
    return render(menu, ctx, state.page, state.params, state.stack, hint=hint)


def _go(menu: Menu, ctx: Context, state: State, step: Go) -> Screen:
    stack = (*state.stack, (state.page, state.params))
    if len(stack) > STACK_MAX:   # keep the way home, drop the oldest screens after it
        stack = (stack[0], *stack[len(stack) - STACK_MAX + 1:])
    return render(menu, ctx, step.page, dict(step.params), stack)


def _step(menu: Menu, ctx: Context, state: State, step: Step) -> Screen:
    if isinstance(step, Go):
        return _go(menu, ctx, state, step)
    if isinstance(step, Retry):
        return _again(menu, ctx, state, step.hint)
    if isinstance(step, Finish):
        laid = lay_out(ctx, View(body=step.text, end=True), start=0, hint="", depth=0,
                       width=width(ctx))
        return Screen(laid.text, True, replace(state, options=(), more=None, typed=False,
                                               ended=True), step.sms)
    raise TypeError(f"a page returned {step!r}, not a step")


def new_input(last_text: str, text: str) -> str | None:
    """What was typed since the stored input, `*` included; None if `text` does not continue it."""
    if not last_text:
        return text
    if text.startswith(last_text + "*"):
        return text[len(last_text) + 1:]
    return None


def replay(menu: Menu, ctx: Context, text: str) -> Screen:
    """A session we have no state for: play each `*`-separated input from the home screen."""
    screen = home(menu, ctx)
    for entry in text.split("*") if text else []:
        if screen.end:
            break
        screen = advance(menu, ctx, screen.state, entry)
    return screen


def answer(menu: Menu, ctx: Context, stored: State | None, last_text: str, text: str) -> Screen:
    """The screen for a request whose whole input is `text`, given the stored state."""
    if stored is None:
        return replay(menu, ctx, text)
    entry = new_input(last_text, text)
    if entry is None:
        return replay(menu, ctx, text)
    return advance(menu, ctx, stored, entry)
