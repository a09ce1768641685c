"""Helpers of the web-page tests: headless Chromium, sign-in, screenshots, label checks.

The browser is Debian's ``/usr/bin/chromium`` driven by Playwright's Python package
(``playwright install`` cannot download browsers here); tests that need it skip with the
reason when it is absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "screenshots"
#: A laptop screen.
VIEWPORT = {"width": 1366, "height": 900}

#: Every form control must have a label (its own <label>, aria-label or aria-labelledby).
UNLABELLED_JS = """() => Array.from(document.querySelectorAll(
    'input:not([type=hidden]), select, textarea')).filter(el =>
    !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
    && !el.getAttribute('aria-labelledby')).map(el => el.name || el.id)"""


#: Every text of every chart inside the SVG's viewBox, and each label left of its bar (or of
#: its suppressed value): the boxes the browser lays out with its real fonts.
CHART_OVERFLOW_JS = """() => {
  const out = [];
  for (const svg of document.querySelectorAll('svg.chart')) {
    const vb = svg.viewBox.baseVal;
    for (const t of svg.querySelectorAll('text')) {
      const b = t.getBBox();
      if (b.x < vb.x - 0.5 || b.y < vb.y - 0.5 || b.x + b.width > vb.x + vb.width + 0.5
          || b.y + b.height > vb.y + vb.height + 0.5)
        out.push(`${t.textContent} outside the chart: x=${b.x} w=${b.width} of ${vb.width}`);
    }
    for (const g of svg.querySelectorAll('g.bar-row')) {
      const label = g.querySelector('text.chart-label').getBBox();
      const r = g.querySelector('rect');
      const right = r ? r.x.baseVal.value : g.querySelector('text.chart-suppressed').getBBox().x;
      if (label.x + label.width > right + 0.5)
        out.push(`${g.dataset.category}: label runs into its bar (${label.x + label.width})`);
    }
  }
  return out;
}"""


#: Text boxes whose content is wider than the box (cut off or spilling over), and a page
#: wider than the window. ``overflow-x: auto`` boxes (scrollable on purpose) are skipped.
TEXT_OVERFLOW_JS = """() => {
  const out = [];
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    out.push(`page ${document.documentElement.scrollWidth} px wide, window ${window.innerWidth}`);
  const sel = 'main td, main th, main dd, main dt, main label, main p, main li, main h1, main h2,'
    + ' main h3, main summary, main button, main code, main legend, main option';
  for (const el of document.querySelectorAll(sel)) {
    if (!el.getClientRects().length) continue;
    const scroller = el.closest('.chart-box, pre, .sr-only');
    if (scroller) continue;
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).display !== 'inline')
      out.push(`${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 40)}":`
               + ` ${el.scrollWidth} > ${el.clientWidth}`);
  }
  return out;
}"""


def assert_text_fits(page: Any) -> None:
    """No text of the page overflows its box, and the page is no wider than the window."""
    problems = page.evaluate(TEXT_OVERFLOW_JS)
    assert problems == [], f"{page.url}: {problems[:10]}"


def assert_chart_fits(page: Any) -> None:
    """No chart text is clipped by its SVG or runs into a bar (measured in the browser)."""
    problems = page.evaluate(CHART_OVERFLOW_JS)
    assert problems == [], f"{page.url}: {problems}"


def launch_chromium() -> Iterator[Any]:
    """Headless Chromium (the ``chromium`` fixture of conftest); skips when
    /usr/bin/chromium is absent."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (make tools installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_page(chromium: Any, server: str) -> Any:
    """A page in a fresh browser context (its own cookies) on ``server``."""
    context = chromium.new_context(base_url=server, viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(15_000)
    return context.new_page()


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as ``test-artefacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_labelled(page: Any) -> None:
    """Every visible form control of the page has a label."""
    missing = page.evaluate(UNLABELLED_JS)
    assert missing == [], f"{page.url}: form controls without a label: {missing}"


def sign_in(page: Any, token: str, *, keyboard: bool = False) -> None:
    """Sign in through the sign-in form (by keyboard only when ``keyboard``)."""
    page.goto("/web/sign-in")
    assert_labelled(page)
    if keyboard:
        for _ in range(6):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "token":
                break
        assert page.evaluate("document.activeElement.id") == "token", "Tab never reached the token"
        page.keyboard.type(token)
        page.keyboard.press("Enter")
    else:
        page.fill("#token", token)
        page.click("form[action='/web/sign-in'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/web/$"))


class WebClient:
    """An httpx client that signs in through the form and sends the session cookie itself
    (httpx's cookie jar keeps ``Secure`` cookies from plain-http loopback URLs)."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.cookies: dict[str, str] = {}

    def _keep(self, r: httpx.Response) -> httpx.Response:
        for header in r.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value and "max-age=0" not in header.lower():
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return r

    def _headers(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def get(self, url: str) -> httpx.Response:
        """GET with the cookies."""
        return self._keep(self.http.get(url, headers=self._headers()))

    def post(self, url: str, data: dict[str, Any]) -> httpx.Response:
        """POST a form with the cookies."""
        return self._keep(self.http.post(url, data=data, headers=self._headers()))

    def csrf(self, url: str = "/web/") -> str:
        """The CSRF token of the forms of ``url``."""
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.get(url).text)
        assert found, f"no CSRF token on {url}"
        return found.group(1)

    def sign_in(self, token: str) -> WebClient:
        """Sign in with an API token."""
        r = self.post("/web/sign-in", {"csrf_token": self.csrf("/web/sign-in"), "token": token})
        assert r.status_code == 303, r.text
        return self
