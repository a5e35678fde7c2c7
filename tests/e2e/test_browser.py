"""The web page in a real browser: Playwright driving Debian's Chromium (dev/test installs it; never downloaded).

Screenshots go to tests/artifacts/ (gitignored) so a person can look at what the tests saw.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

if importlib.util.find_spec("playwright") is None:
    pytest.skip("playwright is not installed (pip install -e '.[test]')", allow_module_level=True)
if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
    pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (dev/test installs it)", allow_module_level=True)

from conftest import STORY_NAME  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                                              args=ARGS)
        yield instance
        instance.close()


def _page(browser: Any, live_server: str, key: str) -> Page:
    page: Page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    page.goto(live_server + "/")
    page.fill("#key-input", key)
    page.click("#key-form button")
    return page


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_chain_map_renders_and_a_clicked_segment_lists_its_firms(browser: Any, live_server: str,
                                                                  api_keys: dict[str, str]) -> None:
    page = _page(browser, live_server, api_keys["analyst"])
    page.wait_for_function("window.chainlight.chainChart !== undefined")
    nodes = page.evaluate("window.chainlight.chainChart.getOption().series[0].data.length")
    assert nodes >= 5
    assert page.locator("#chain-chart canvas").count() >= 1
    page.wait_for_timeout(500)  # the first layout animation
    # click the biggest segment where the chart drew it
    x, y, segment = page.evaluate("""() => {
        const c = window.chainlight.chainChart, data = c.getOption().series[0].data;
        const d = data.reduce((a, b) => (b.value > a.value ? b : a));
        const box = document.getElementById('chain-chart').getBoundingClientRect();
        const [px, py] = c.convertToPixel({seriesIndex: 0}, [d.x, d.y]);
        return [box.left + px, box.top + py, d.id]; }""")
    page.mouse.click(x, y)
    page.wait_for_selector("[data-testid=segment-firm]")
    assert segment in page.text_content("#segment-title")
    assert page.locator("[data-testid=segment-firm]").count() > 0
    _shot(page, "chain_map")
    # a firm in the list opens its page
    page.locator("[data-testid=segment-firm] a").first.click()
    page.wait_for_selector("[data-testid=enterprise-name]")
    assert page.errors == []  # type: ignore[attr-defined]


def test_story_firm_page_shows_its_path_to_the_automotive_anchor(browser: Any, live_server: str,
                                                                  api_keys: dict[str, str], story_uscc: str) -> None:
    page = _page(browser, live_server, api_keys["decider"])
    page.goto(f"{live_server}/#/enterprise/{story_uscc}")
    page.wait_for_selector("[data-testid=anchor-path]")
    assert STORY_NAME in page.text_content("[data-testid=enterprise-name]")
    assert "车用工程塑料" in page.text_content("[data-testid=makes]")  # what it really makes…
    assert "机械" in page.text_content("main")  # …beside what it registered
    paths = page.locator("[data-testid=anchor-path]")
    assert paths.count() >= 1
    assert paths.first.get_attribute("data-chain") == "automotive"
    assert paths.first.text_content().startswith(STORY_NAME)
    assert "核心企业 anchor" in paths.first.text_content()
    assert page.locator("#path-chart canvas").count() == 1 and page.locator("#trend-chart canvas").count() == 1
    _shot(page, "story_firm")
    assert page.errors == []  # type: ignore[attr-defined]


def test_story_firm_decision_shows_reasons_in_plain_words(browser: Any, live_server: str, api_keys: dict[str, str],
                                                          story_uscc: str) -> None:
    page = _page(browser, live_server, api_keys["decider"])
    page.goto(f"{live_server}/#/enterprise/{story_uscc}")
    page.wait_for_selector("#decide-form")
    page.fill("#decide-amount", "2000000")
    page.click("#decide-form button")
    page.wait_for_selector("[data-testid=decision-reasons] li")
    outcome = page.text_content("[data-testid=decision-outcome]")
    assert any(word in outcome for word in ("Approve", "Decline", "Refer"))
    reasons = page.locator("[data-testid=decision-reasons] li")
    assert reasons.count() >= 1
    text = reasons.first.text_content()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text) and any(ch.isascii() and ch.isalpha() for ch in text)
    _shot(page, "story_decision")


def test_search_finds_the_story_firm_by_its_short_name(browser: Any, live_server: str, api_keys: dict[str, str],
                                                       story_uscc: str) -> None:
    page = _page(browser, live_server, api_keys["analyst"])
    page.fill("#search-input", "丞达")
    page.click("#search-form button")
    page.wait_for_selector("[data-testid=search-results]")
    first = page.locator("[data-testid=search-results] tbody tr").first
    assert STORY_NAME in first.text_content() and story_uscc in first.text_content()
    _shot(page, "search")


def test_without_a_key_the_page_asks_for_one(browser: Any, live_server: str) -> None:
    page = browser.new_page()
    page.goto(live_server + "/")
    page.wait_for_selector("[data-testid=error]")
    assert "API" in page.text_content("[data-testid=error]")


def test_untrusted_text_is_not_markup(browser: Any, live_server: str, api_keys: dict[str, str]) -> None:
    page = _page(browser, live_server, api_keys["analyst"])
    page.goto(live_server + "/#/search/" + "%3Cimg%20src%3Dx%20onerror%3Dwindow.pwned%3D1%3E")
    page.wait_for_selector("main h1")
    assert page.evaluate("window.pwned === undefined")
    assert "<img" in page.text_content("main h1")
