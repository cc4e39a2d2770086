"""A turn typed into an application's own chat page in a real browser (Chromium, driven by
Playwright), the answer read as the page renders it. Most chat pages render each answer with
scripts: what the server sent is not what the user sees, and whether an image loads or a button
works shows only in a browser. Each conversation is a fresh browser context (its own cookies and
storage), as each is a fresh visitor over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from demarcate.model.errors import ManifestError, Problem

T = TypeVar("T")
CHROMIUM_ENV = "DEMARCATE_CHROMIUM"  # a Chromium or Chrome binary, where Playwright's own is not installed
# What a click on the newest answer may press: buttons, and elements a script made clickable (Dify's
# `abbr:` links). Plain links are left alone: following one leaves the page.
CLICKABLE = "button, [role=button], input[type=submit], abbr"
MAX_CLICKS = 3
FIND = 15.0  # seconds to wait, on a page that has loaded, for the message box and the send button
# The answer as the page shows it, with the address of each image and link it shows written out as
# markdown does (`![alt](src)`, `[text](href)`): what the user sees, and where it points.
READ = """e => {
  const copy = e.cloneNode(true);
  copy.removeAttribute("id"); copy.removeAttribute("class");
  for (const img of copy.querySelectorAll("img")) img.replaceWith(`![${img.alt}](${img.getAttribute("src") || ""})`);
  for (const a of copy.querySelectorAll("a[href]")) a.replaceWith(`[${a.textContent}](${a.getAttribute("href")})`);
  copy.style.position = "absolute"; copy.style.left = "-100000px";
  document.body.appendChild(copy);
  const text = copy.innerText;
  copy.remove();
  return text;
}"""


@dataclass
class Turned:
    """What the page showed for one turn: the newest answer's text and rendered markup, and what each
    click on it sent as the user's next message (None: nothing was clicked)."""

    text: str = ""
    html: str = ""
    error: str = ""
    clicked: list[str] | None = None
    latency: float = 0.0


@dataclass
class _Tab:
    context: Any
    page: Any
    url: str = ""


@dataclass
class Browser:
    """One Chromium for a campaign, opened on the first turn; one context per conversation."""

    input: str
    answer: str
    send: str | None = None
    user: str | None = None
    click: bool = False
    settle: float = 1.5
    timeout: float = 120.0
    tabs: dict[str, _Tab] = field(default_factory=dict)
    missing: str = ""  # a part of the page a selector names that the page did not have: every turn fails so
    _playwright: Any = None
    _chromium: Any = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def _launch(self) -> Any:
        async with self._lock:
            if self._chromium is None:
                from playwright.async_api import Error, async_playwright

                self._playwright = await async_playwright().start()
                _quiet_when_the_driver_ends(asyncio.get_running_loop())
                binary = os.environ.get(CHROMIUM_ENV) or None
                try:
                    self._chromium = await self._playwright.chromium.launch(
                        executable_path=binary, args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                                                      "--disable-background-networking", "--disable-sync"])
                except Error as exc:
                    await self._playwright.stop()
                    self._playwright = None
                    where = f"{CHROMIUM_ENV}={binary}" if binary else "Playwright's own Chromium"
                    raise ManifestError([Problem(
                        f"the target's browser could not start ({where}): {str(exc).splitlines()[0]}",
                        hint=f"run `playwright install chromium`, or set {CHROMIUM_ENV} to a Chromium or Chrome "
                             "binary (Debian's chromium package: /usr/bin/chromium)")]) from None
            return self._chromium

    async def _tab(self, session: str, url: str) -> _Tab:
        tab = self.tabs.get(session)
        if tab is None:
            chromium = await self._launch()
            context = await chromium.new_context()
            page = await context.new_page()
            page.set_default_timeout(self.timeout * 1000)
            tab = self.tabs[session] = _Tab(context, page)
        if tab.url != url:
            await tab.page.goto(url, wait_until="load")
            tab.url = url
            # A page may still be drawing what it shows on opening (a greeting among the answers):
            # counted as already there, it is never taken for the answer to the first message.
            await _steady(tab.page.locator(self.answer).count, self.settle,
                          time.monotonic() + max(self.settle * 4, 5.0))
        return tab

    async def turn(self, url: str, message: str, session: str) -> Turned:
        """Type the message into the page (opened at `url` for this conversation), send it, and wait for
        a new answer to appear and stop changing."""
        from playwright.async_api import Error
        from playwright.async_api import TimeoutError as WaitedTooLong

        start = time.monotonic()
        if self.missing:  # the page has no such part: asking again would wait as long for the same answer
            return Turned(error=self.missing)
        try:
            tab = await self._tab(session, url)
            page = tab.page
            answers = page.locator(self.answer)
            before = await answers.count()
            for selector, what in ((self.input, "input"), (self.send, "send")):
                if not selector:
                    continue
                try:
                    await page.locator(selector).first.wait_for(state="visible", timeout=FIND * 1000)
                except WaitedTooLong:
                    self.missing = (f"the page at {url} has no visible '{selector}' (browser.{what}) "
                                    f"{FIND:.0f} s after it loaded: check the selector")
                    return Turned(error=self.missing, latency=time.monotonic() - start)
            await page.fill(self.input, message)
            if self.send:
                await page.click(self.send)
            else:
                await page.press(self.input, "Enter")
            deadline = start + self.timeout
            if await self._settled(answers, before, deadline) is None:
                return Turned(error=f"no new answer on the page in {self.timeout:.0f} s: is '{self.answer}' "
                              "(browser.answer) what holds the bot's answers?", latency=time.monotonic() - start)
            newest = answers.nth(await answers.count() - 1)
            markup = await newest.evaluate("e => e.outerHTML")
            text = await newest.evaluate(READ)
            clicked = await self._click(page, newest, deadline) if self.click else None
        except Error as exc:
            return Turned(error=f"the browser: {str(exc).splitlines()[0]}", latency=time.monotonic() - start)
        return Turned(text=text, html=markup, clicked=clicked, latency=time.monotonic() - start)

    async def _settled(self, answers: Any, before: int, deadline: float) -> str | None:
        """The newest answer's text once a new one is on the page and has not changed for `settle`
        seconds (a streamed answer grows until it is done); None if none came before the deadline."""
        async def newest() -> str | None:
            count = await answers.count()
            text = await answers.nth(count - 1).inner_text() if count > before else ""
            return text if text.strip() else None

        return await _steady(newest, self.settle, deadline)

    async def _click(self, page: Any, newest: Any, deadline: float) -> list[str]:
        """Click each button of the newest answer (a few at most) and read what each sent as the user's
        next message: the user's message that appeared after it, if any."""
        from playwright.async_api import Error

        sent: list[str] = []
        users = page.locator(self.user)
        targets = newest.locator(CLICKABLE)
        for i in range(min(await targets.count(), MAX_CLICKS)):
            had = await users.count()
            try:
                await targets.nth(i).click(timeout=5000)
            except Error:  # hidden, disabled or gone: nothing a user could press
                continue
            wait_until = min(deadline, time.monotonic() + max(self.settle * 2, 3.0))
            while time.monotonic() < wait_until and await users.count() <= had:
                await asyncio.sleep(0.1)
            if await users.count() > had:
                sent.append(await users.nth(await users.count() - 1).inner_text())
            if await targets.count() <= i + 1:
                break
        return sent

    async def end(self, session: str) -> None:
        tab = self.tabs.pop(session, None)
        if tab is not None:
            await tab.context.close()

    async def close(self) -> None:
        from playwright.async_api import Error

        try:
            for session in list(self.tabs):
                await self.end(session)
            if self._chromium is not None:
                await self._chromium.close()
        except Error:
            pass  # the driver is gone already (Ctrl-C reaches it too): nothing is left to close
        finally:
            self.tabs.clear()
            self._chromium = None
            if self._playwright is not None:
                with contextlib.suppress(Error):
                    await self._playwright.stop()
                self._playwright = None


async def _steady(read: Callable[[], Awaitable[T | None]], settle: float, deadline: float) -> T | None:
    """What `read` gives once it has given the same for `settle` seconds (None: nothing yet), or None
    if it has not by the deadline."""
    last: T | None = None
    since = time.monotonic()
    while time.monotonic() < deadline:
        value = await read()
        now = time.monotonic()
        if value != last:
            last, since = value, now
        elif value is not None and now - since >= settle:
            return value
        await asyncio.sleep(0.1)
    return None


_DRIVER_GONE = "Connection closed while reading from the driver"


def _quiet_when_the_driver_ends(loop: asyncio.AbstractEventLoop) -> None:
    """Ctrl-C reaches Playwright's driver process as well as the campaign, and its pending calls then
    fail with nobody waiting for them; asyncio would print each. The campaign has saved its cases and
    says how to resume: those messages say nothing more."""
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if _DRIVER_GONE in str(context.get("exception", "")):
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
