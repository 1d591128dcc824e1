"""Issue 16's browser scenarios: banners, course lists, a course page, logins, the flash
sale from click to paid order, polling when the event stream is blocked, phone width, axe."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.browser.conftest import (
    AXE,
    PHONE,
    USER,
    Browsing,
    api,
    create_sale,
    screenshot,
    sent_code,
    token,
)
from tests.support.platform import Platform

pytestmark = pytest.mark.timeout(180)


def at(path: str) -> re.Pattern[str]:
    """The page itself, not a `?next=` naming it."""
    return re.compile(rf"^https?://[^/]+{re.escape(path)}$")


def wait_ids(page: Any, expected: list[int]) -> None:
    page.wait_for_function(
        "ids => JSON.stringify([...document.querySelectorAll('.course-items [data-course-id]')]"
        ".map(c => Number(c.dataset.courseId))) === JSON.stringify(ids)", arg=expected,
        timeout=10_000)


def test_home_banners_load_and_the_carousel_moves(desktop: Browsing) -> None:
    page = desktop.page
    page.goto("/")
    images = page.locator(".carousel__slide img")
    images.first.wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.carousel__slide img')]"
        ".every(i => i.complete && i.naturalWidth > 0)", timeout=10_000)
    assert images.count() >= 2
    track = page.locator(".carousel__track")
    start = track.get_attribute("style")
    page.mouse.move(0, 0)  # not hovering: it advances by itself within its 5 s
    page.wait_for_function(
        "s => document.querySelector('.carousel__track').getAttribute('style') !== s",
        arg=start, timeout=8_000)
    moved = track.get_attribute("style")
    page.get_by_role("button", name="下一张").click()
    assert track.get_attribute("style") != moved
    page.locator(".carousel__dot").first.click()
    assert "translateX(0%)" in (track.get_attribute("style") or "")
    assert page.locator(".sale-card").count() >= 1 or page.locator(".empty").count() >= 1
    page.get_by_role("button", name="English").click()  # all text switches, and stays so
    page.get_by_role("heading", name="Free courses").wait_for()
    page.reload()
    page.get_by_role("link", name="Hands-on courses").first.wait_for()
    assert page.evaluate("document.documentElement.lang") == "en"


def test_course_list_follows_the_api_and_the_address(desktop: Browsing, site: Platform) -> None:
    page = desktop.page
    categories = api(site, "GET", "/api/v1/catalog/categories")
    counts = {c["id"]: api(site, "GET", f"/api/v1/catalog/courses?kind=actual&category={c['id']}")[
        "count"] for c in categories}
    category = max(counts, key=lambda c: counts[c])
    assert counts[category] >= 2

    def expected(ordering: str) -> list[int]:
        answer = api(site, "GET", f"/api/v1/catalog/courses?kind=actual&category={category}"
                                  f"&ordering={ordering}&page_size=5")
        return [c["id"] for c in answer["results"]]

    page.goto("/actual-course")
    page.locator(f"[data-category-id='{category}']").click()
    page.wait_for_url(re.compile(rf"category={category}"))
    page.locator("[data-sort=price]").click()
    page.wait_for_url(re.compile(r"ordering=price"))
    wait_ids(page, expected("price"))
    assert page.get_by_text(f"共 {counts[category]} 个课程").is_visible()
    assert page.locator(f"[data-category-id='{category}']").get_attribute("aria-pressed") == "true"

    page.reload()
    wait_ids(page, expected("price"))

    page.locator("[data-sort=price]").click()  # the arrow turns: highest first
    page.wait_for_url(re.compile(r"ordering=-price"))
    wait_ids(page, expected("-price"))
    page.go_back()
    page.wait_for_url(re.compile(r"ordering=price(&|$)"))
    wait_ids(page, expected("price"))


def test_course_page_shows_chapters_and_free_trials(desktop: Browsing, site: Platform) -> None:
    course = api(site, "GET", "/api/v1/catalog/courses/1")
    free = sum(s["free_trail"] for ch in course["chapters"] for s in ch["sections"])
    assert course["chapters"] and free
    page = desktop.page
    page.goto("/course/1")
    page.get_by_role("heading", name=course["name"], level=1).wait_for()
    page.get_by_role("tab", name="课程章节").click()
    assert page.locator(".chapter").count() == len(course["chapters"])
    assert page.locator("#panel-chapters .badge--free").count() == free
    first = course["chapters"][0]["sections"][0]["name"]
    assert page.locator("#panel-chapters").get_by_text(first, exact=True).is_visible()
    page.get_by_role("tab", name="授课老师").click()
    assert page.locator("#panel-teacher").get_by_text(course["teacher"]["name"]).first.is_visible()


def test_logins_sms_password_and_a_wrong_password(desktop: Browsing, site: Platform) -> None:
    page = desktop.page
    page.goto("/login")
    page.get_by_label("手机号").fill(USER[0])
    page.get_by_label("密码", exact=True).fill("not-the-password")
    page.locator("form button[type=submit]").click()
    page.get_by_role("alert").filter(has_text="手机号、密码或验证码不正确").wait_for()

    desktop.login(*USER)
    assert page.locator(".user-menu__phone").inner_text() == "139****0000"
    page.get_by_role("button", name=re.compile("用户菜单")).click()
    with page.expect_request(lambda r: r.url.endswith("/api/v1/auth/logout")):
        page.get_by_role("button", name="退出登录").click()
    page.get_by_role("link", name="登录").wait_for()

    phone = "13700001601"
    page.goto("/login?next=/orders")
    page.get_by_role("tab", name="短信登录").click()
    page.get_by_label("手机号").fill(phone)
    page.get_by_role("button", name="获取验证码").click()
    code = sent_code(site, phone)
    page.reload()  # the 60 s countdown survives a reload
    page.get_by_role("tab", name="短信登录").click()
    resend = page.locator(".send-code")
    assert resend.is_disabled() and "秒后重新获取" in resend.inner_text()
    page.get_by_label("验证码").fill(code)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(at("/orders"))
    assert page.locator(".user-menu__phone").inner_text() == "137****1601"
    page.reload()  # the token is kept across reloads
    page.get_by_role("heading", name="我的订单").wait_for()
    assert page.locator(".user-menu__phone").inner_text() == "137****1601"


def test_buy_pay_then_sold_out_for_another(desktop: Browsing, browser: Any,
                                           site: Platform) -> None:
    sale = create_sale(site, stock=1, title="一份库存的秒杀")
    page = desktop.page
    page.goto(f"/seckill/{sale['id']}")
    page.get_by_test_id("buy").click()  # not logged in: to the login and back
    page.wait_for_url(re.compile(r"/login\?next="))
    page.get_by_label("手机号").fill(USER[0])
    page.get_by_label("密码", exact=True).fill(USER[1])
    page.locator("form button[type=submit]").click()
    page.wait_for_url(at(f"/seckill/{sale['id']}"))

    page.get_by_test_id("buy").click()
    page.get_by_text("抢购成功").wait_for(timeout=15_000)
    order = page.locator(".order-card")
    assert re.search(r"请在 1[45]:\d\d 内支付", order.inner_text())
    assert page.get_by_test_id("buy").is_disabled()
    order.get_by_role("button", name="立即支付").click()
    order.locator(".badge--paid").wait_for()
    order_id = order.get_attribute("data-order-id")

    page.get_by_role("button", name=re.compile("用户菜单")).click()
    page.get_by_role("link", name="我的订单").click()
    page.locator(f"[data-order-id='{order_id}'] .badge--paid").wait_for()

    other = Browsing(browser, site, {"width": 1280, "height": 900})
    try:
        phone = "13700001602"
        sms_login(other, site, phone)
        other.page.goto(f"/seckill/{sale['id']}")
        buy = other.page.get_by_test_id("buy")
        buy.filter(has_text="已抢光").wait_for()
        assert buy.is_disabled()
    finally:
        other.close()


def sms_login(browsing: Browsing, site: Platform, phone: str) -> None:
    page = browsing.page
    page.goto("/login")
    page.get_by_role("tab", name="短信登录").click()
    page.get_by_label("手机号").fill(phone)
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_label("验证码").fill(sent_code(site, phone))
    page.locator("form button[type=submit]").click()
    page.locator(".user-menu__phone").wait_for()


def test_a_double_click_sends_one_attempt(desktop: Browsing, site: Platform) -> None:
    sale = create_sale(site, stock=5, title="双击测试")
    sms_login(desktop, site, "13700001603")
    page = desktop.page
    attempts: list[str] = []
    page.on("request", lambda r: attempts.append(r.headers.get("idempotency-key", ""))
            if r.method == "POST" and r.url.endswith(f"/items/{sale['id']}/attempts") else None)
    page.goto(f"/seckill/{sale['id']}")
    page.get_by_test_id("buy").dblclick()
    page.get_by_text("抢购成功").wait_for(timeout=15_000)
    assert len(attempts) == 1 and attempts[0]


def test_a_blocked_event_stream_falls_back_to_polling(desktop: Browsing, site: Platform) -> None:
    sale = create_sale(site, stock=5, title="轮询测试")
    sms_login(desktop, site, "13700001604")
    page = desktop.page
    blocked: list[str] = []
    polls: list[str] = []

    def block(route: Any) -> None:
        blocked.append(route.request.url)
        route.abort()

    page.route("**/api/v1/seckill/tickets/*/events", block)
    page.on("request", lambda r: polls.append(r.url)
            if re.search(r"/tickets/[^/]+$", r.url) else None)
    page.goto(f"/seckill/{sale['id']}")
    page.get_by_test_id("buy").click()
    page.get_by_text("抢购成功").wait_for(timeout=15_000)
    assert blocked and polls


PAGES = ["/", "/free-course", "/actual-course", "/light-course", "/course/1", "/login",
         "/seckill", "/seckill/{sale}", "/orders", "/no-such-page"]
SERIOUS = ("serious", "critical")


def names(path: str) -> str:
    return {"/": "home", "/no-such-page": "not-found"}.get(
        path, path.strip("/").replace("/{sale}", "-item").replace("/1", "").replace("/", "-"))


def buy_through_the_api(site: Platform, item: int) -> None:
    access = token(site, *USER)
    attempt = api(site, "POST", f"/api/v1/seckill/items/{item}/attempts", {}, access)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        ticket = api(site, "GET", f"/api/v1/seckill/tickets/{attempt['ticket']}", token=access)
        if ticket["status"] != "pending":
            assert ticket["status"] == "success", ticket
            return
        time.sleep(0.2)
    raise AssertionError("the ticket stayed pending")


def test_every_page_fits_a_phone_passes_axe_and_is_photographed(
        desktop: Browsing, phone: Browsing, site: Platform) -> None:
    sale = create_sale(site, stock=20, title="截图用秒杀", starts_in_s=-30)
    create_sale(site, stock=10, title="即将开始的秒杀", starts_in_s=240, course_id=14)
    create_sale(site, stock=10, title="已结束的秒杀", starts_in_s=-7200, course_id=15)
    buy_through_the_api(site, sale["id"])  # an order awaiting payment, for the pictures
    violations: dict[str, list[str]] = {}
    sideways: dict[str, int] = {}
    for browsing, width in ((desktop, "desktop"), (phone, "phone")):
        browsing.login(*USER)
        for path in PAGES:
            page = browsing.page
            page.goto(path.format(sale=sale["id"]))
            page.wait_for_load_state("networkidle")
            page.wait_for_function("() => !document.querySelector('.skeletons')", timeout=10_000)
            page.evaluate("document.querySelectorAll('img[loading=lazy]')"
                          ".forEach(i => { i.loading = 'eager' })")
            page.wait_for_function(
                "() => [...document.images].every(i => i.complete)", timeout=10_000)
            if width == "phone":
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth")
                if overflow > 0:
                    sideways[path] = overflow
            page.evaluate(AXE.read_text())  # evaluated by devtools: the CSP allows no inline script
            found = page.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                ".filter(v => ['serious', 'critical'].includes(v.impact))"
                ".map(v => `${v.id}: ${v.nodes.slice(0, 3).map(n => n.target.join(' '))"
                ".join(', ')}`)")
            if found:
                violations[f"{width} {path}"] = found
            screenshot(page, f"{names(path)}-{width}")
    assert PHONE["width"] == 375
    assert not sideways, f"pages wider than 375 px: {sideways}"
    assert not violations, violations
