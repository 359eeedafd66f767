"""The Empathy page in a real browser: headless Chromium signs in to a real Airflow api-server, opens the
overview, searches User B by email, opens their page (chart, evidence, the Slack alert as Slack shows it),
the alert's preview, the account, a dry run and the uplift, and leaves a screenshot of each in
tests/artifacts/ui/ (docs/ui.md shows them).

Needs Debian's ``chromium`` and ``chromium-driver`` (``make setup`` installs them when it can) and selenium
(pinned in requirements.txt); without them the test is skipped and says why."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ui_data import RAW_PII

pytest_plugins = ["ui_fixtures"]   # the fixture ui_home

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts" / "ui"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
USER, PASSWORD = "marketer", "empathy-test-password"
EMAIL_OF_USER_B = "ben.okafor@umbrella.example"   # the demo's identify trait
START_TIMEOUT_S = 240      # the api-server imports all of Airflow: minutes on a busy 2-core machine
WAIT_S = 60


def _missing() -> str | None:
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        return (f"Chromium or its driver is not installed ({CHROMIUM}, {CHROMEDRIVER}): `make setup` installs "
                "them with apt-get (Debian packages chromium and chromium-driver) where it can")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: run `make setup` (it is pinned in requirements.txt)"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_missing() is not None, reason=_missing() or "")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def api_server(ui_home, airflow_db, tmp_path_factory):
    """A real `airflow api-server` with the project's plugins, a simple-auth user with a known password, and
    the test database as EMPATHY_HOME; its base URL."""
    import urllib.request

    port = _free_port()
    work = tmp_path_factory.mktemp("api-server")
    passwords = work / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    env = {**os.environ, "EMPATHY_HOME": str(ui_home),
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
           "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
           "AIRFLOW__API_AUTH__JWT_SECRET": "empathy-browser-test-secret-" + "x" * 40,
           "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), os.environ.get("PYTHONPATH", "")])}
    log = (work / "api-server.log").open("w")
    server = subprocess.Popen([str(Path(sys.executable).parent / "airflow"), "api-server", "--port", str(port),
                               "--host", "127.0.0.1", "--workers", "1", "--apps", "core"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("the api-server did not start:\n" + (work / "api-server.log").read_text()[-3000:])
                time.sleep(1)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1360,900",
                "--lang=en-US"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver, name: str) -> Path:
    """A screenshot of the whole page (the window grown to its height)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
    driver.set_window_size(1360, min(max(height + 40, 600), 2400))
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1360, 900)
    return path


def _wait(driver, condition, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S).until(condition, message=f"waiting for {what}")


def _sign_in(driver, base: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/empathy/")
    assert "Sign in" in driver.page_source and "MRR at risk" not in driver.page_source   # nothing before the login
    driver.find_element(By.LINK_TEXT, "Sign in").click()                                 # to Airflow's own login
    username = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "input[name=username]"), "the login form")
    username.send_keys(USER)
    driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(driver, lambda d: d.get_cookie("_token"), "Airflow's login cookie")


def test_a_marketer_signs_in_searches_user_b_and_reads_their_page(api_server, browser, ui_home):
    from selenium.webdriver.common.by import By

    _sign_in(browser, api_server)
    browser.get(f"{api_server}/empathy/")
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "svg[role=img]"), "the overview's chart")
    assert "How your customers feel" in browser.page_source and "MRR at risk" in browser.page_source
    _shot(browser, "overview")

    box = browser.find_element(By.CSS_SELECTOR, "header form.search input[name=q]")
    box.send_keys(EMAIL_OF_USER_B)
    box.submit()
    link = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "a[href$='/empathy/users/user_b']"),
                 "User B among the results")
    assert "1 match" in browser.page_source
    _shot(browser, "search")

    link.click()
    chart = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=sentiment-chart] svg"),
                  "User B's chart")
    assert len(chart.find_elements(By.TAG_NAME, "circle")) >= 2 and chart.size["width"] > 300
    slack = browser.find_element(By.CSS_SELECTOR, "[data-testid=slack-preview]")
    assert slack.is_displayed() and "needs a human touch" in slack.find_element(By.CSS_SELECTOR, ".sk-header").text
    button = slack.find_element(By.CSS_SELECTOR, "a.button")
    assert button.text == "Open in Empathy" and button.get_attribute("href").endswith("/empathy/users/user_b")
    evidence = browser.find_element(By.CSS_SELECTOR, "[data-testid=evidence]").text
    assert "failed payment" in evidence
    for raw in RAW_PII:
        assert raw not in browser.page_source
    _shot(browser, "user")

    browser.find_element(By.CSS_SELECTOR, "a[href*='/empathy/outbox/slack/']").click()
    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".slack .sk-header"), "the alert's preview")
    assert "Block Kit JSON" in browser.page_source
    _shot(browser, "slack-preview")

    browser.get(f"{api_server}/empathy/accounts/acct_umbrella")
    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=account-chart] svg"), "the account's chart")
    _shot(browser, "account")

    browser.get(f"{api_server}/empathy/runs/dry__check")
    kind = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=run-kind]"), "the run's kind")
    assert "dry run" in kind.text
    _shot(browser, "run")

    browser.get(f"{api_server}/empathy/uplift")
    verdict = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=verdict]"), "the uplift verdict")
    assert "noise" in verdict.text
    _shot(browser, "uplift")

    browser.get(f"{api_server}/plugin/empathy")   # the navigation entry: the page inside Airflow's UI
    frame = _wait(browser, lambda d: d.find_element(By.TAG_NAME, "iframe"), "the page inside Airflow's UI")
    browser.switch_to.frame(frame)
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "svg[role=img]"), "the overview inside the frame")
    browser.switch_to.default_content()
    browser.save_screenshot(str(ARTIFACTS / "in-airflow.png"))

