"""The dashboard in a real headless Chromium (Debian's chromium and chromium-driver).

A real pump (gunicorn) and a real Celery worker on a real Redis: the page loads without
console errors, pumping from its form makes the backlog chart rise, and the processed
count shown reaches the number pumped; the charts (the vendored uPlot) have a time axis
with clock tick labels and a y axis with ticks and its unit. With a real local autoscaler:
its replicas beside the model's, as two series of the replicas chart, and its state marked
stale, in words, once it is gone or when the pump reads an old run's directory; with none,
the replicas chart says so. The screenshots are kept in ``artifacts/``.
"""

from __future__ import annotations

import os
import re
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import Proc, free_port, own_tmpdir, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")

if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip(
        "Debian's chromium and chromium-driver are not installed (scripts/bootstrap installs them as root)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1200,1400",
        "--disable-gpu",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER or ""), options=options)
    yield driver
    driver.quit()


def start_pump(spawn: Callable[..., Proc], redis_url: str, *extra: str, env: dict[str, str] | None = None) -> str:
    """``kedasuite serve`` on a free port, once /healthz answers; its base URL."""
    port = free_port()
    pump = spawn("serve", "--port", str(port), "--redis-url", redis_url, "--workloads", "celery,rq", *extra, env=env)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert pump.popen.poll() is None, pump.log()[-3000:]
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                return True
        except OSError:
            return False

    wait_for(up, 60, "the pump")
    return base


#: A time axis's tick labels: the browser's local clock, with seconds unless the ticks are whole minutes.
CLOCK = re.compile(r"\d\d:\d\d(:\d\d)?")
#: A y axis's tick labels: counts (1,000 grouped) or rates with one decimal.
NUMBER = re.compile(r"\d{1,3}(,\d{3})*(\.\d)?")


def chart(card: WebElement, name: str) -> WebElement:
    return card.find_element(By.CSS_SELECTOR, f".chart-{name}")


def axes_of(element: WebElement, unit: str) -> None:
    """A uPlot chart drawn on its canvas with two axes: time along x, with clock tick labels,
    and ``unit`` on y, with ticks from 0 up. The labels are painted on the canvas; the page
    records what each axis painted on the chart's element."""
    assert element.find_elements(By.CSS_SELECTOR, ".uplot canvas"), "no uPlot canvas"
    assert len(element.find_elements(By.CSS_SELECTOR, ".u-axis")) == 2
    x = (element.get_attribute("data-x-ticks") or "").split()
    assert len(x) >= 2 and all(CLOCK.fullmatch(t) for t in x), f"time ticks {x}"
    y = (element.get_attribute("data-y-ticks") or "").split()
    assert len(y) >= 2 and all(NUMBER.fullmatch(t) for t in y) and y[0] == "0", f"y ticks {y}"
    assert element.get_attribute("data-y-unit") == unit


def legend(element: WebElement) -> dict[str, str]:
    """The chart's legend: each series' label and the value it shows (the latest, away from the cursor)."""
    rows = element.find_elements(By.CSS_SELECTOR, ".u-legend .u-series")
    return {r.find_element(By.CLASS_NAME, "u-label").text: r.find_element(By.CLASS_NAME, "u-value").text for r in rows}


@pytest.fixture
def pump_url(spawn: Callable[..., Proc], redis_url: str, tmp_path: Path) -> str:
    """A pump with no autoscaler beside it: its own temporary directory, so no state an
    earlier run left in the default run directory shows up."""
    return start_pump(spawn, redis_url, env=own_tmpdir(tmp_path))


def test_pumping_from_the_form_shows_the_backlog_rise_and_every_item_processed(
    browser: webdriver.Chrome, pump_url: str, spawn: Callable[..., Proc], redis_url: str
) -> None:
    worker = spawn("worker", "celery", "--redis-url", redis_url, "--concurrency", "2", "--work-time", "fixed:0.04")
    worker.wait_for_log(r"ready\.", timeout=60)
    browser.get(pump_url + "/")
    wait = WebDriverWait(browser, 60, poll_frequency=0.2)
    card = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '.workload[data-workload="celery"]'))
    assert browser.find_element(By.CSS_SELECTOR, '.workload[data-workload="rq"]')
    assert [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#workload option")] == [
        "celery",
        "rq",
        "all",
    ]

    count = browser.find_element(By.ID, "count")
    count.clear()
    count.send_keys("400")
    browser.find_element(By.ID, "pump-button").click()

    result = browser.find_element(By.ID, "pump-result")
    wait.until(lambda d: result.get_attribute("data-state") == "succeeded")
    assert result.text.endswith("succeeded, sent 400 of 400"), result.text
    wait.until(lambda d: int(card.get_attribute("data-max-backlog")) > 0)
    wait.until(lambda d: card.get_attribute("data-processed") == "400")
    assert card.find_element(By.CLASS_NAME, "processed").text == "400"
    items = chart(card, "items")
    assert int(items.get_attribute("data-points")) >= 2
    axes_of(items, "items")
    assert list(legend(items)) == ["time", "backlog", "in flight"]
    axes_of(chart(card, "rate"), "items/s")
    # no autoscaler: the replicas chart keeps its axes and says why it has nothing to draw
    replicas = chart(card, "replicas")
    axes_of(replicas, "replicas")
    assert card.get_attribute("data-replica-chart") == "empty"
    note = card.find_element(By.CLASS_NAME, "replicas-note")
    assert note.is_displayed() and note.text.startswith("no replicas to chart: no local autoscaler"), note.text

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")
    # over the chart, the legend reads the sample under the cursor and its time
    ActionChains(browser).move_to_element(items.find_element(By.CLASS_NAME, "u-over")).perform()
    wait.until(lambda d: re.fullmatch(r"\d\d:\d\d:\d\d", legend(items)["time"]))
    assert NUMBER.fullmatch(legend(items)["backlog"]), legend(items)
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], severe


def test_a_bad_request_from_the_form_shows_the_pumps_words(browser: webdriver.Chrome, pump_url: str) -> None:
    browser.get(pump_url + "/")
    wait = WebDriverWait(browser, 30, poll_frequency=0.2)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#workload option"))
    count = browser.find_element(By.ID, "count")
    count.clear()
    browser.find_element(By.ID, "rate").send_keys("10")
    browser.find_element(By.ID, "pump-button").click()
    result = browser.find_element(By.ID, "pump-result")
    wait.until(lambda d: "error" in (result.get_attribute("class") or ""))
    assert result.text == "rate needs a duration or a count (e.g. rate=50&duration=60s)"
    # the 400 is the page's expected answer, shown to the user; Chrome still logs the failed
    # request itself, which is the only console error allowed
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert all("/pump - Failed to load resource" in e["message"] for e in severe), severe


def polls(browser: webdriver.Chrome) -> int:
    """How many /status answers the page has drawn."""
    return int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-polls") or 0)


def stays(browser: webdriver.Chrome, wait: WebDriverWait, look: Callable[[], object], renders: int = 2) -> None:
    """``look()`` holds now and after ``renders`` more polls of the page (what it showed once, it keeps showing)."""
    assert look()
    since = polls(browser)
    wait.until(lambda d: polls(browser) >= since + renders)
    assert look()


def test_a_local_autoscaler_shows_running_replicas_beside_the_models_and_why(
    browser: webdriver.Chrome, spawn: Callable[..., Proc], redis_url: str, tmp_path: Path
) -> None:
    """A real `kedasuite autoscale` running real RQ workers with demo timings, and a pump reading its
    run directory: the RQ card shows the replicas running against the model's, the last step and
    the next one in words, a note that the timings are not the manifest's; once the autoscaler
    stops, the same numbers are marked stale, with their age, for as long as the page polls, and
    the page says how to see a live autoscaler."""
    import signal

    run_dir = tmp_path / "run"
    env = own_tmpdir(tmp_path)
    auto = spawn(
        "autoscale",
        "-w",
        "rq",
        "--redis-url",
        redis_url,
        "--run-dir",
        str(run_dir),
        "--polling-interval",
        "1",
        "--cooldown-period",
        "10",
        "--sync-period",
        "1",
        "--stabilization-window",
        "2",
        env={**env, "WORK_TIME": "fixed:0.3"},
    )
    base = start_pump(spawn, redis_url, "--autoscale-run-dir", str(run_dir), env=env)
    browser.get(base + "/")
    wait = WebDriverWait(browser, 90, poll_frequency=0.2)
    card = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '.workload[data-workload="rq"]'))
    wait.until(lambda d: card.get_attribute("data-autoscale") == "live")
    celery = browser.find_element(By.CSS_SELECTOR, '.workload[data-workload="celery"]')
    assert not celery.find_element(By.CLASS_NAME, "autoscale").is_displayed()  # the autoscaler runs rq only
    assert card.find_element(By.CLASS_NAME, "as-deviations").text.startswith(
        "timings differ from the manifest (a demo, not what a cluster does): pollingInterval 1 s (manifest: 15 s); "
        "cooldownPeriod 10 s (manifest: 120 s)"
    )
    assert card.find_element(By.CLASS_NAME, "as-state").text == f"autoscaler (processes, pid {auto.pid}):"
    note = browser.find_element(By.ID, "autoscaler-note")
    assert not note.is_displayed()  # a live state needs no fix

    Select(browser.find_element(By.ID, "workload")).select_by_value("rq")
    count = browser.find_element(By.ID, "count")
    count.clear()
    count.send_keys("30")
    browser.find_element(By.ID, "pump-button").click()
    # rq: listLength 10, so ceil(30/10) = 3 replicas; real workers, so "running" reaches 3 too
    wait.until(lambda d: card.get_attribute("data-model") == "3")
    wait.until(lambda d: card.get_attribute("data-actual") == "3")
    assert card.find_element(By.CLASS_NAME, "actual").text == "3"
    replicas = chart(card, "replicas")
    assert legend(replicas)["running"] == "3"  # the legend reads the latest sample, away from the cursor
    assert card.find_element(By.CLASS_NAME, "as-reason").text.startswith("last: ")
    cooldown = re.compile(r"^next in [\d.]+ s: KEDA: backlog 0 <= 5, in-flight 0 <= 0: cooldown: \d+ s of 10 left$")
    wait.until(lambda d: cooldown.match(card.find_element(By.CLASS_NAME, "as-next").text))
    wait.until(lambda d: card.get_attribute("data-actual") == "0" and card.get_attribute("data-processed") == "30")
    # the replicas chart: a step series for the replicas running and one for the model's, on a
    # time axis, in replicas
    assert int(replicas.get_attribute("data-points")) >= 2
    assert card.get_attribute("data-replica-chart") == "drawn"
    assert not card.find_element(By.CLASS_NAME, "replicas-note").is_displayed()
    axes_of(replicas, "replicas")
    wait.until(lambda d: legend(replicas) == {"time": "now", "running": "0", "model": "0"})
    # celery has no autoscaler here: its replicas chart says so
    assert celery.get_attribute("data-replica-chart") == "empty"

    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "dashboard-autoscale.png"))
    auto.signal(signal.SIGTERM)
    assert auto.wait(60) == 0, auto.log()
    wait.until(lambda d: card.get_attribute("data-autoscale") == "stale")
    label = re.compile(
        rf"autoscaler STALE: the autoscaler \(pid {auto.pid}\) is not running: it stopped "
        rf"\(SIGTERM\); its last state \(pid {auto.pid}, processes, run dir {re.escape(str(run_dir))}\) "
        r"was written at \d\d:\d\d:\d\d, [\d.]+ s ago — not live:"
    )

    def says_stale() -> bool:
        text = card.find_element(By.CLASS_NAME, "as-state").text
        assert label.fullmatch(text), f"the card's autoscaler label reads {text!r}"
        return True

    stays(browser, wait, says_stale)
    assert card.find_element(By.CLASS_NAME, "as-next").text == ""
    # stale numbers are not charted: the series stop where the live state did
    assert legend(replicas) == {"time": "now", "running": "0", "model": "0"}
    assert note.is_displayed() and note.text.endswith(
        f"no autoscaler of this user runs on this host now: start one (`kedasuite autoscale --run-dir {run_dir}`), "
        "or, for one that writes elsewhere, set AUTOSCALE_RUN_DIR=<its run dir> or pass --autoscale-run-dir <its "
        "run dir>"
    ), note.text
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], severe


def test_a_pump_reading_an_old_runs_state_says_so_and_where_the_live_one_writes(
    browser: webdriver.Chrome, spawn: Callable[..., Proc], redis_url: str, tmp_path: Path
) -> None:
    """What a user met: `kedasuite serve` without AUTOSCALE_RUN_DIR reads the default run
    directory, which holds an old run's state, while `kedasuite autoscale` runs with --run-dir
    elsewhere. The card marks the old numbers STALE with their age, whose they are, for as long
    as the page polls; the page names the live autoscaler's run directory and the variable and
    option that show it."""
    from kedasuite.autoscale.actuator import read_state
    from tests.support import run_cli, wait_for

    env = own_tmpdir(tmp_path)
    default = Path(env["TMPDIR"]) / f"kedasuite-autoscale-{os.getuid()}"
    old = run_cli("autoscale", "--backend", "none", "-w", "rq", "--redis-url", redis_url, "--duration", "1", env=env)
    assert old.returncode == 0, old.stdout + old.stderr
    old_pid = read_state(default)["pid"]
    other = tmp_path / "other"
    live = spawn(
        "autoscale", "--backend", "none", "-w", "rq", "--redis-url", redis_url, "--run-dir", str(other), env=env
    )
    wait_for(lambda: read_state(other), 60, f"the live autoscaler's state in {other}", seen=live.describe)

    base = start_pump(spawn, redis_url, env=env)
    browser.get(base + "/")
    wait = WebDriverWait(browser, 60, poll_frequency=0.2)
    card = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '.workload[data-workload="rq"]'))
    wait.until(lambda d: card.get_attribute("data-autoscale") == "stale")
    label = re.compile(
        rf"autoscaler STALE: the autoscaler \(pid {old_pid}\) is not running: it stopped "
        rf"\(--duration 1 s reached\); its last state \(pid {old_pid}, none, run dir "
        rf"{re.escape(str(default))}\) was written at \d\d:\d\d:\d\d, [\d.]+ s ago — not live:"
    )
    note = browser.find_element(By.ID, "autoscaler-note")
    fix = (
        f"an autoscaler runs now with pid {live.pid} (backend none) and run dir {other}: "
        f"set AUTOSCALE_RUN_DIR={other} or pass --autoscale-run-dir {other} to see it"
    )

    def says_so() -> bool:
        text = card.find_element(By.CLASS_NAME, "as-state").text
        assert label.fullmatch(text), f"the card's autoscaler label reads {text!r}"
        assert note.is_displayed(), "the page's autoscaler note is hidden"
        assert re.fullmatch(
            rf"the autoscaler state in {re.escape(str(default))} is stale: the autoscaler \(pid "
            rf"{old_pid}\) is not running: it stopped \(--duration 1 s reached\); its numbers are the "
            rf"last that autoscaler \(pid {old_pid}, backend none\) wrote [\d.]+ s ago, not live; "
            rf"{re.escape(fix)}",
            note.text,
        ), note.text
        return True

    stays(browser, wait, says_so)
    assert card.find_element(By.CLASS_NAME, "actual").text == "none (model only)"
    assert card.get_attribute("data-replica-chart") == "empty"
    empty = card.find_element(By.CLASS_NAME, "replicas-note")
    assert empty.text == "no replicas to chart: the autoscaler's state is STALE, not live", empty.text
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "dashboard-stale.png"))
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], severe
