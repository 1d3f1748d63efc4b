"""Browser tests: headless Chromium (Debian's, through its chromedriver) on the resident pages.

The pages are served by `chalice local` in a child process, next to the local stack of the
`local_stack` fixture (moto, LINE sandbox, issuer). axe-core comes from node_modules (pinned
in package-lock.json, `npm ci`): `axe_check(driver)` injects it and answers the WCAG 2.2 A/AA
violations of the page as it is now. `make test` installs Chromium and axe-core when missing;
without them these tests are skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from devstack.env import Ports

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
PHONE = (390, 844)  # CSS pixels of a common phone
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]

pytestmark = pytest.mark.slow
# The /queue page's clock in the browser tests: a Tuesday at 10:21 in Tokyo, the office open, in a
# year the integration tests never use (they share the ticket table: tickets are keyed by office + day).
# In the past: the webhook refuses events dated ahead of the real clock.
QUEUE_CLOCK = datetime(2024, 3, 5, 10, 21, tzinfo=timezone(timedelta(hours=9)))


def pytest_collection_modifyitems(items):
    missing = [p for p in (CHROMIUM, CHROMEDRIVER, str(AXE)) if not os.path.exists(p)]
    if missing:
        skip = pytest.mark.skip(reason=f"browser tests need {', '.join(missing)} (make browser-deps)")
        for item in items:
            if "tests/browser" in str(item.fspath):
                item.add_marker(skip)
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def web(local_stack):
    """The app as `chalice local` on a free port, against the test stack; its base URL."""
    from devstack.run import wait_for_http

    port = Ports.free().api
    env = {**os.environ, "MADOGUCHI_CLOCK": QUEUE_CLOCK.isoformat()}  # read by the /queue page only
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("chalice")),
            "local",
            "--stage",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-autoreload",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/web", timeout=90, alive=lambda: process.poll() is None)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session, phone-sized, with a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="madoguchi-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # as root in CI
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={PHONE[0]},{PHONE[1]}",
        "--lang=ja",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    # The window size includes no browser chrome in headless mode: the viewport is the phone's.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 2, "mobile": True},
    )
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser):
    """The browser with fresh cookies, for one journey."""
    browser.delete_all_cookies()
    return browser


def axe_check(driver) -> list[dict]:
    """axe-core's WCAG 2.2 A/AA violations on the page as it is now (injected, not served)."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' '))}))))"
        ".catch(e => done([{id: 'axe-error', help: String(e), nodes: []}]));",
        WCAG,
    )
    return result


CHECKED: list[str] = []  # every page state axe looked at, for the summary line


def assert_accessible(driver, what: str) -> None:
    violations = axe_check(driver)
    assert violations == [], f"{what}: axe found {violations}"
    CHECKED.append(what)  # counted only when clean


def pytest_terminal_summary(terminalreporter):
    import sys

    # The tests import this file as tests.browser.conftest, pytest may hold another copy of it.
    checked = getattr(sys.modules.get("tests.browser.conftest"), "CHECKED", None) or CHECKED
    if checked:
        languages = {what.split()[1] for what in checked if len(what.split()) > 1}
        terminalreporter.write_line(
            f"axe-core: {len(checked)} page states passed WCAG 2.2 A/AA"
            f" (page languages seen: {', '.join(sorted(languages & {'ja', 'en'}))})"
        )


def screenshot(driver, name: str) -> None:
    """A phone-sized picture of the page for docs/ (the whole page height, at most 3 screens)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = min(driver.execute_script("return document.documentElement.scrollHeight"), PHONE[1] * 3)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE[0], "height": height, "deviceScaleFactor": 1, "mobile": True},
    )
    try:
        driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    finally:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 2, "mobile": True},
        )


def mint_id_token(local_stack, user_id: str) -> str:
    from chalicelib.config import get_settings

    response = requests.post(
        f"http://127.0.0.1:{local_stack.ports.line}/__sandbox/id-tokens",
        json={"sub": user_id, "aud": get_settings().line_login_channel_id},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()["idToken"]
