"""The pages in a real browser: headless Chromium driven by Selenium, against ``uvicorn`` serving
a store synced from the bundled snapshot (on SQLite and PostgreSQL).

Filtering and sorting the table with the keyboard, submitting a plan and checking its total
against the API's answer, opening an offer and checking its chart drew, a narrow screen, and
that no page loads anything from another host. Needs Debian's ``chromium`` and
``chromium-driver`` (``.ci/run`` installs them); skipped without them. With
``GPUHOURS_WEB_SCREENSHOTS=DIR`` each page is also saved as ``DIR/<page>.png``
(docs/screenshots holds the README's).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine

from tests.web.conftest import web_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Chromium and its driver: apt-get install chromium chromium-driver",
)
SCREENSHOTS = os.environ.get("GPUHOURS_WEB_SCREENSHOTS")
WAIT = 10.0


@pytest.fixture(scope="module")
def base_url(snapshot_engine: Engine) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread of this process."""
    config = uvicorn.Config(
        web_app(snapshot_engine), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=WAIT)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1000"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def api(base_url: str, path: str) -> Any:
    with urllib.request.urlopen(base_url + path, timeout=WAIT) as response:
        return json.load(response)


def wait_for(browser: Any, script: str) -> Any:
    """The value of ``script`` once it is truthy (page loads and scripts run asynchronously)."""
    deadline = time.monotonic() + WAIT
    while True:
        value = browser.execute_script(script)
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def foreign_resources(browser: Any, base_url: str) -> list[str]:
    """Resources the page loaded from anywhere but the app itself."""
    names = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    return [name for name in names if not name.startswith(base_url)]


def screenshot(browser: Any, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(SCREENSHOTS) / f"{name}.png"))


def cells(browser: Any, column: int) -> list[str]:
    """The texts of one column of the offers table (1-based)."""
    from selenium.webdriver.common.by import By

    found = browser.find_elements(By.CSS_SELECTOR, f"#offers tbody td:nth-child({column})")
    return [cell.text for cell in found]


def test_filter_and_sort_the_offers_with_the_keyboard(browser: Any, base_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(base_url + "/")
    assert browser.find_elements(By.CSS_SELECTOR, "#offers tbody tr")
    box = browser.find_element(By.ID, "f-gpu")
    box.send_keys("H100", Keys.ENTER)
    wait_for(browser, "return location.search.includes('gpu=H100')")
    assert set(cells(browser, 4)) == {"H100"}
    assert "gpu=H100" in browser.current_url

    header = browser.find_element(By.CSS_SELECTOR, 'a[data-sort="price_per_hour"]')
    header.send_keys(Keys.ENTER)
    wait_for(browser, "return location.search.includes('sort=price_per_hour')")
    prices = [
        float(td.get_attribute("data-value"))
        for td in browser.find_elements(By.CSS_SELECTOR, "#offers tbody td:nth-child(11)")
    ]
    assert prices == sorted(prices)
    browser.find_element(By.CSS_SELECTOR, 'a[data-sort="price_per_hour"]').send_keys(Keys.ENTER)
    wait_for(browser, "return location.search.includes('order=desc')")
    prices = [
        float(td.get_attribute("data-value"))
        for td in browser.find_elements(By.CSS_SELECTOR, "#offers tbody td:nth-child(11)")
    ]
    assert prices == sorted(prices, reverse=True)
    assert set(cells(browser, 4)) == {"H100"}, "sorting keeps the filter"
    browser.set_window_size(1600, 1000)
    browser.get(base_url + "/?gpu=H100&region=us-*&sort=region")
    screenshot(browser, "offers")
    browser.set_window_size(1280, 1000)
    assert foreign_resources(browser, base_url) == []


def test_a_plan_in_the_browser_costs_what_the_api_says(browser: Any, base_url: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(base_url + "/plan")
    browser.find_element(By.ID, "f-gpu_hours").send_keys("1000")
    browser.find_element(By.ID, "f-gpus").send_keys("H100")
    browser.find_element(By.ID, "f-deadline_hours").send_keys("72")
    browser.find_element(By.ID, "f-max_gpus").send_keys("64")
    browser.find_element(By.ID, "f-max_gpus").submit()
    wait_for(browser, "return document.getElementById('plan') !== null")
    shown = float(browser.find_element(By.ID, "plan").get_attribute("data-total"))
    expected = api(base_url, "/v1/plan?gpu_hours=1000&gpus=H100&deadline_hours=72&max_gpus=64")
    assert shown == expected["total_cost"]
    notes = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#plan-notes li")]
    assert notes == expected["notes"]
    browser.execute_script("document.getElementById('plan').scrollIntoView()")
    screenshot(browser, "plan")


def test_bad_plan_input_shows_the_api_message_at_the_field(browser: Any, base_url: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(base_url + "/plan")
    field = browser.find_element(By.ID, "f-gpu_hours")
    field.send_keys("-5")
    field.submit()
    wait_for(browser, "return document.getElementById('error-gpu_hours') !== null")
    message = browser.find_element(By.ID, "error-gpu_hours").text
    try:
        api(base_url, "/v1/plan?gpu_hours=-5")
    except urllib.error.HTTPError as refused:
        assert refused.code == 422
        assert message == json.load(refused)["error"]["errors"][0]["message"]
    else:
        pytest.fail("the API accepted -5 GPU-hours")
    field = browser.find_element(By.ID, "f-gpu_hours")
    assert field.get_attribute("aria-invalid") == "true"
    assert "error-gpu_hours" in field.get_attribute("aria-describedby")


def test_an_offer_shows_its_price_history_as_a_chart(browser: Any, base_url: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(base_url + "/?gpu=H100")
    browser.find_element(By.CSS_SELECTOR, "#offers tbody td:nth-child(3) a").click()
    drawn = wait_for(browser, "return document.getElementById('history-chart').dataset.drawn")
    assert drawn is not None and int(drawn) >= 2
    painted = browser.execute_script(
        "const c = document.querySelector('#history-chart canvas');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i]) n++; } return n;"
    )
    assert painted > 1000, "the chart's canvas holds a drawing"
    assert browser.find_elements(By.CSS_SELECTOR, "#offer-source dt")
    screenshot(browser, "offer")
    assert foreign_resources(browser, base_url) == []


def test_the_providers_page_lists_every_feed(browser: Any, base_url: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(base_url + "/providers")
    shown = {
        row.get_attribute("data-feed")
        for row in browser.find_elements(By.CSS_SELECTOR, "#feeds tbody tr")
    }
    assert shown == {feed["id"] for feed in api(base_url, "/v1/providers")["feeds"]}
    screenshot(browser, "providers")


def test_the_api_docs_work_offline(browser: Any, base_url: str) -> None:
    browser.get(base_url + "/docs")
    assert wait_for(browser, "return document.querySelectorAll('.opblock').length") > 5
    assert foreign_resources(browser, base_url) == []


def test_a_narrow_screen_scrolls_the_table_not_the_page(browser: Any, base_url: str) -> None:
    browser.set_window_size(390, 844)
    try:
        for path in ("/", "/plan", "/providers"):
            browser.get(base_url + path)
            overflow = browser.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, path
    finally:
        browser.set_window_size(1280, 1000)
