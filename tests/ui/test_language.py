"""Switch the console between Simplified Chinese and English: the visible texts change (the
navigation, the view's headings, the page title, `<html lang>`), and the choice survives a
reload and a new login in the same browser."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import Console, nav_links, settled, skip_without_chromium

pytestmark = [pytest.mark.browser, skip_without_chromium]

HAN = re.compile(r"[\u4e00-\u9fff]")


def visible_texts(page: Page) -> dict[str, str]:
    return {
        "nav": " | ".join(nav_links(page).all_inner_texts()),
        "h1": page.locator("main h1").first.inner_text(),
        "title": page.title(),
        "lang": str(page.locator("html").get_attribute("lang")),
    }


def test_switch_language_and_keep_it(new_console: Callable[..., Console]) -> None:
    c = new_console(locale="zh-CN")
    page = c.login("soc_analyst")
    settled(page)
    zh = visible_texts(page)
    assert zh["lang"] == "zh-CN"
    assert HAN.search(zh["nav"]), zh
    assert HAN.search(zh["h1"]), zh
    expect(nav_links(page).first).to_have_text("态势总览")

    page.get_by_role("button", name="English", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(nav_links(page).first).to_have_text("Overview")
    settled(page)
    en = visible_texts(page)
    assert not HAN.search(en["nav"]), f"Chinese left in the English navigation: {en['nav']}"
    assert not HAN.search(en["h1"]), en
    assert all(zh[k] != en[k] for k in zh), (zh, en)
    # Official Chinese terms may stand beside their translation, in parentheses: "Serious (重大)".
    main_en = re.sub(r"\([\u4e00-\u9fff]+\)", "", page.locator("main").inner_text())
    assert not HAN.search(main_en), f"Chinese left in the English view: {HAN.findall(main_en)}"

    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(nav_links(page).first).to_have_text("Overview")
    settled(page)
    assert visible_texts(page) == en

    page.get_by_role("button", name="中文", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(nav_links(page).first).to_have_text("态势总览")
    page.reload()
    expect(nav_links(page).first).to_have_text("态势总览")
    settled(page)
    assert visible_texts(page) == zh
    assert not c.errors, c.errors


def test_an_english_browser_starts_in_english(new_console: Callable[..., Console]) -> None:
    page = new_console(locale="en-US").login("soc_analyst")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(nav_links(page).first).to_have_text("Overview")
