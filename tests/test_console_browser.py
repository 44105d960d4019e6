"""The console in a real browser (Debian's Chromium, driven by Playwright): logging in and
out, at a laptop's and a phone's width, and with the keyboard alone (issue 17)."""

from __future__ import annotations

from support import CONSOLE_PASSWORD, browser_login, console_user


def test_an_admin_logs_in_and_out(page, live_server, conn):
    console_user(conn, "ann")
    page.goto(f"{live_server}/console/prices")
    assert page.url.startswith(f"{live_server}/console/login")
    page.get_by_label("Username").fill("ann")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "Wrong username or password."
    page.get_by_label("Password").fill(CONSOLE_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server}/console/prices")
    assert page.get_by_role("navigation").get_by_role("link", name="Overview").is_visible()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{live_server}/console/login")
    page.goto(f"{live_server}/console/overview")
    assert page.url.startswith(f"{live_server}/console/login")


def test_logging_in_with_the_keyboard_alone_at_a_phones_width(browser, live_server, conn):
    console_user(conn, "ann")
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    try:
        page.goto(f"{live_server}/console/login")
        page.wait_for_function("document.activeElement.id === 'username'")  # autofocus
        page.keyboard.type("ann")
        page.keyboard.press("Tab")
        page.keyboard.type(CONSOLE_PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(f"{live_server}/console/overview")
        # nothing is wider than the screen: no sideways scrolling of the page
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.keyboard.press("Tab")        # the first stop is the skip link
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    finally:
        context.close()


PAGES = ["/console/overview", "/console/messages", "/console/messages/inbox",
         "/console/prices", "/console/prices/import", "/console/prices/reviews",
         "/console/contacts", "/console/groups", "/console/bulletins", "/console/simulator",
         "/console/account"]


def test_every_admin_page_fits_a_phone_and_the_keyboard_reaches_every_control(
        browser, live_server, conn):
    """At 360 px no page scrolls sideways (tables scroll inside their own box), and Tab
    visits every link, field and button of the page, each one visible when focused."""
    console_user(conn, "ann")
    context = browser.new_context(viewport={"width": 360, "height": 740})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        browser_login(page, live_server, "ann")
        for path in PAGES:
            page.goto(live_server + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
            controls = page.evaluate("""() => {
                const found = [...document.querySelectorAll(
                    'a[href], button, input:not([type=hidden]), select, textarea')]
                    .filter(e => !e.disabled && e.tabIndex >= 0 && e.offsetParent !== null);
                found.forEach((e, i) => { e.dataset.kbd = i; });
                return found.length; }""")
            assert controls >= 3, path
            reached: set[int] = set()
            # A date field takes three Tab stops (day, month, year): allow for them.
            for _ in range(controls * 4 + 5):
                if len(reached) == controls:
                    break
                page.keyboard.press("Tab")
                focused = page.evaluate("""() => { const e = document.activeElement;
                    if (!e || !e.dataset || e.dataset.kbd === undefined) return null;
                    const r = e.getBoundingClientRect();
                    return [Number(e.dataset.kbd), r.width > 0 && r.height > 0]; }""")
                if focused:
                    assert focused[1], (path, focused[0])   # never an invisible stop
                    reached.add(focused[0])
            assert reached == set(range(controls)), (path, controls, sorted(reached))
    finally:
        context.close()
