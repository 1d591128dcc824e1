"""Browser tests: Debian's Chromium driven by Playwright against a real `coursestream up`.

The browser is the machine's `chromium` (installed with apt when missing and we are root);
Playwright never downloads one. Each test makes the sales it needs through the API as the
admin, so the tests do not depend on the demo data."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from coursestream.web_client import DIST, WEB, ensure_built
from tests.support.packages import apt_install, ensure_command
from tests.support.platform import Platform, running_platform

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
ADMIN = ("13800000000", "admin12345")
USER = ("13900000000", "user12345")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


def _chromium() -> str:
    path = ensure_command("chromium", "chromium")
    # Chinese text in the screenshots needs a CJK font; the page works without one
    has_cjk = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True,
                             check=False).stdout.strip() if shutil.which("fc-list") else ""
    if not has_cjk:
        apt_install("fonts-wqy-microhei")
    return path


@pytest.fixture(scope="session")
def web_dist() -> Path:
    ensure_built()
    return DIST


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Iterator[Platform]:
    # Every browser comes from 127.0.0.1: lift the per-address auth limits above what the
    # suite asks for (a few dozen logins and codes), leave every other limit as shipped.
    env = {"WEB_DIST_DIR": str(web_dist), "RATE_LIMIT_AUTH": '{"quota": 600, "window_s": 60}',
           "LOGIN_FAILURES_PER_IP": "1000", "SMS_IP_LIMIT": "1000"}
    with running_platform(tmp_path_factory.mktemp("browser"), env=env) as running:
        yield running


@pytest.fixture(scope="module")
def browser(site: Platform) -> Iterator[Any]:
    # Module-scoped: sync Playwright holds the main thread's event loop while it is open,
    # which the asyncio tests of later modules need.
    with playwright_sync.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


class Browsing:
    """One browser context (one user's tabs) with the page errors it saw."""

    def __init__(self, browser: Any, site: Platform, viewport: dict[str, int]) -> None:
        self.site = site
        self.context = browser.new_context(viewport=viewport, locale="zh-CN",
                                           base_url=site.url)
        self.errors: list[str] = []
        self.page = self.new_page()

    def new_page(self) -> Any:
        page = self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("console", lambda message: self.errors.append(f"console: {message.text}")
                if message.type == "error" and "Failed to load resource" not in message.text
                and "net::ERR_FAILED" not in message.text else None)
        return page

    def login(self, phone: str, password: str) -> None:
        page = self.page
        page.goto("/login")
        page.get_by_label("手机号").fill(phone)
        page.get_by_label("密码", exact=True).fill(password)
        page.locator("form button[type=submit]").click()
        page.wait_for_url(lambda url: "/login" not in url)
        page.locator(".user-menu__phone").wait_for()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def desktop(browser: Any, site: Platform) -> Iterator[Browsing]:
    browsing = Browsing(browser, site, DESKTOP)
    yield browsing
    errors = list(browsing.errors)
    browsing.close()
    assert not [e for e in errors if "pageerror" in e or "Unhandled" in e], errors


@pytest.fixture
def phone(browser: Any, site: Platform) -> Iterator[Browsing]:
    browsing = Browsing(browser, site, PHONE)
    yield browsing
    browsing.close()


# --- the API, as the admin sets up what a test needs ---------------------------------------

def api(site: Platform, method: str, path: str, body: Any = None,
        token: str | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{site.url}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
        return json.loads(raw) if raw else None


def token(site: Platform, phone: str, password: str) -> str:
    answer = api(site, "POST", "/api/v1/auth/tokens", {"phone": phone, "password": password})
    return str(answer["access_token"])


def create_sale(site: Platform, stock: int, starts_in_s: float = -60, lasts_s: float = 3600,
                course_id: int = 13, title: str = "浏览器测试秒杀") -> dict[str, Any]:
    now = datetime.now(UTC)
    body = {"course_id": course_id, "title": title, "price": "9.90", "stock": stock,
            "starts_at": (now + timedelta(seconds=starts_in_s)).isoformat(),
            "ends_at": (now + timedelta(seconds=starts_in_s + lasts_s)).isoformat()}
    return dict(api(site, "POST", "/api/v1/seckill/items", body, token(site, *ADMIN)))


def sent_code(site: Platform, phone: str, within: float = 15) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if sent := site.sent_sms(phone):
            return str(sent[-1]["params"]["code"])
        time.sleep(0.2)
    raise AssertionError(f"no SMS code for {phone} in {site.var_dir / 'sms-outbox.jsonl'}")


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
