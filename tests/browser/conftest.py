"""Browser tests: Playwright (sync API) driving Debian's chromium against pytest-django's live_server.

One chromium per module (Playwright and chromium start in well under a second), a fresh context
(cookies, language, storage) per test. Playwright's own browser download is not used: opsdesk's
CI, like its users' intranets, has no internet access.

Environment:
  OPSDESK_CHROMIUM          the chromium binary (default: `chromium` on PATH)
  OPSDESK_BROWSER_SHOTS     a directory: tests save screenshots of the pages they visit there
  OPSDESK_BROWSER_HEADED=1  show the browser window (for debugging on a desktop)
A failing test leaves a screenshot of the page in its pytest tmp_path (named in the report).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread (in a greenlet); Django refuses ORM
# calls from a thread with a running loop unless told that it is safe, which it is here: the
# test waits for the browser before it touches the database.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

PASSWORD = "correct-horse-battery"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-gpu",
    "--disable-sync",
]
# Console messages that are not failures of the page: a 4xx answer to a form post (the import
# with problems answers 400) is logged by chromium as "Failed to load resource".
IGNORED_CONSOLE = ("Failed to load resource",)


def pytest_collection_modifyitems(config, items):
    if not config.pluginmanager.hasplugin("xdist"):
        return
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            # One worker runs all browser tests under `pytest -n N --dist loadgroup`: one chromium,
            # one compile of the translations.
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.browser_call_failed = report.failed
    return report


@pytest.fixture(scope="module", autouse=True)
def restore_database_after_browser_tests(django_db_setup, django_db_blocker):
    """Puts back what the migrations wrote (content types, built-in CI kinds, the default service
    level) once this module's tests are done.

    live_server needs transactional tests, and each ends with a flush of every table. With
    serialized_rollback the next browser test reloads the data first, but the tests that run
    after the last one would find empty tables: pytest-django runs transactional tests last, but
    `pytest -n 2 --dist loadgroup` (make test) orders groups by size, so other tests do follow
    these in the same worker."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all(initialized_only=True):
            contents = getattr(connection, "_test_serialized_contents", None)
            if contents:
                connection.creation.deserialize_db_from_string(contents)


@pytest.fixture(scope="session")
def fresh_translations():
    """Compiles the .po catalogues (a translator may have just changed one) and makes this process
    forget every catalogue it has already read, so the live server serves the new strings."""
    from django.utils.translation import reloader

    from opsdesk.core.i18n import compile_translations

    compile_translations()
    reloader.translation_file_changed(sender=None, file_path=Path("django.mo"))


@pytest.fixture(scope="module")
def chromium():
    """Chromium for this module's tests.

    Module-scoped, not session-scoped: while Playwright runs, this thread has a running asyncio
    loop, which changes how Django and asyncio behave for every test that follows (asyncio.run()
    refuses to start, Django keeps its connections elsewhere); starting it again costs well under
    a second."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("OPSDESK_CHROMIUM") or shutil.which("chromium")
    if not executable:
        pytest.fail("chromium is not installed: apt-get install chromium (or set OPSDESK_CHROMIUM)")
    # Django keeps a thread's connections in a thread-local, but in a context variable while the
    # thread has a running loop: without this, the test (and pytest-django's set-up and flush)
    # would get new connections once Playwright starts, not the ones the test databases were set
    # up on (and the live server uses). Serialized rollback would silently do nothing, and on
    # SQLite the test and the live server would use two connections to the in-memory database.
    thread_connections = {alias: connections[alias] for alias in connections}
    with sync_playwright() as playwright:
        for alias, connection in thread_connections.items():
            connections[alias] = connection
        browser = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS,
            headless=os.environ.get("OPSDESK_BROWSER_HEADED") != "1",
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(request, chromium, live_server, fresh_translations, tmp_path):
    """A page in a fresh English browser context on the live server. Uncaught JavaScript errors
    and console errors fail the test."""
    context = chromium.new_context(base_url=live_server.url, locale="en-US",
                                   viewport={"width": 1366, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"JavaScript error on {page.url}: {exc}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type} on {page.url}: {msg.text}")
            if msg.type == "error" and not msg.text.startswith(IGNORED_CONSOLE) else None)
    in_flight: set = set()
    # (Lambdas: Playwright takes Python functions as handlers, not the methods of a set.)
    page.on("request", lambda r: in_flight.add(r))
    page.on("requestfinished", lambda r: in_flight.discard(r))
    page.on("requestfailed", lambda r: in_flight.discard(r))
    yield page
    # A request still on its way (an htmx search fired by a delayed keyup) would reach the live
    # server while the test's tables are being emptied and lock the flush: let it finish, then
    # close the context, which drops whatever is only scheduled.
    for _ in range(60):
        if not in_flight:
            break
        page.wait_for_timeout(50)
    if getattr(request.node, "browser_call_failed", False):
        shot = tmp_path / "failure.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failing page ({page.url}): {shot}")
        except Exception as exc:
            print(f"no screenshot of the failing page: {exc}")
    context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def shot(request):
    """shot(page, name): a full-page screenshot into OPSDESK_BROWSER_SHOTS, when it is set."""
    target = os.environ.get("OPSDESK_BROWSER_SHOTS")

    def take(page, name: str) -> None:
        if target:
            Path(target).mkdir(parents=True, exist_ok=True)
            stem = re.sub(r"[^\w.-]+", "_", f"{request.node.name}-{name}")
            page.screenshot(path=str(Path(target) / f"{stem}.png"), full_page=True)

    return take


@pytest.fixture
def log_in():
    """log_in(page, username): through the login form, as a person would."""
    from playwright.sync_api import expect

    def do(page, username: str, password: str = PASSWORD) -> None:
        page.goto("/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        with page.expect_navigation():
            page.click("#login-submit")
        expect(page.locator("#login-error")).to_have_count(0)
        expect(page.locator("#user-menu")).to_contain_text(username)

    return do
