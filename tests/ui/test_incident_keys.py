"""The incident list with the keyboard, as the alert queue: j/k move a visible cursor row, Enter
opens the incident under it, / goes to the search box (where j and k are just letters), ? shows
the shortcuts in a dialog that Esc closes."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.api.seeded import SeededApi
from tests.ui.conftest import Console, settled, skip_without_chromium

pytestmark = [pytest.mark.browser, skip_without_chromium]


def open_list(c: Console) -> tuple[Page, Locator]:
    page = c.login("soc_analyst")
    page.goto(f"{c.api.url}/#/incidents")
    settled(page)
    rows = page.locator("table.incidents tbody tr[data-id]")
    expect(rows.first).to_be_visible()
    return page, rows


def cursor_at(rows: Locator, index: int) -> None:
    """Exactly the row at `index` is the cursor: outlined, selected for assistive technology,
    its incident link focused."""
    expect(rows.locator("xpath=self::tr[contains(@class, 'cursor')]")).to_have_count(1)
    expect(rows.nth(index)).to_have_class(re.compile(r"\bcursor\b"))
    expect(rows.nth(index)).to_have_attribute("aria-selected", "true")
    expect(rows.locator("xpath=self::tr[@aria-selected='true']")).to_have_count(1)
    expect(rows.nth(index).locator(".c-title a")).to_be_focused()


def test_j_k_move_the_cursor_and_enter_opens_that_incident(
    new_console: Callable[..., Console], console: SeededApi
) -> None:
    c = new_console(locale="en-US")
    page, rows = open_list(c)
    assert rows.count() >= 3, "the hour should list at least three incidents"
    expect(rows.locator("xpath=self::tr[contains(@class, 'cursor')]")).to_have_count(0)

    page.keyboard.press("j")
    cursor_at(rows, 0)
    page.keyboard.press("j")
    cursor_at(rows, 1)
    page.keyboard.press("k")
    cursor_at(rows, 0)
    page.keyboard.press("k")  # stays on the first row
    cursor_at(rows, 0)
    page.keyboard.press("j")
    cursor_at(rows, 1)

    wanted = str(rows.nth(1).get_attribute("data-id"))
    title = next(i.title for i in console.hour.incidents if i.id == wanted)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"#/incidents/{re.escape(wanted)}$"))
    expect(page.locator("main h1")).to_have_text(title)
    assert not c.errors, c.errors


def test_slash_searches_and_letters_typed_there_move_nothing(
    new_console: Callable[..., Console],
) -> None:
    c = new_console(locale="en-US")
    page, rows = open_list(c)
    page.keyboard.press("j")
    cursor_at(rows, 0)
    page.keyboard.press("/")
    search = page.get_by_label("Full text")
    expect(search).to_be_focused()
    page.keyboard.type("jkj?")
    expect(search).to_have_value("jkj?")
    expect(rows.nth(0)).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.keyboard.press("Escape")  # leaves the box; the keys work again
    expect(search).not_to_be_focused()
    page.keyboard.press("j")
    cursor_at(rows, 1)
    assert not c.errors, c.errors


@pytest.mark.parametrize(
    ("locale", "title"), [("zh-CN", "键盘快捷键"), ("en-US", "Keyboard shortcuts")]
)
def test_question_mark_shows_the_shortcuts_and_esc_closes_them(
    new_console: Callable[..., Console], locale: str, title: str
) -> None:
    c = new_console(locale=locale)
    page, _ = open_list(c)
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name=title)
    expect(dialog).to_be_visible()
    for key in ("j", "k", "Enter", "/", "Esc", "?"):
        expect(dialog.locator("kbd", has_text=re.compile(rf"^{re.escape(key)}$"))).to_have_count(1)
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    # The button beside the title opens the same dialog.
    page.get_by_role("button", name=re.compile(r"快捷键|Shortcuts")).click()
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert not c.errors, c.errors
