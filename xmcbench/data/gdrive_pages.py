"""Google Drive confirm pages: find the URL that skips the virus-scan warning."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from typing import Any
from urllib.parse import urlencode, urljoin
from urllib.request import HTTPCookieProcessor, OpenerDirector


def _is_html(response: Any) -> bool:
    return response.headers.get_content_type() == "text/html"


def _cookie_jar(opener: OpenerDirector) -> CookieJar:
    for handler in opener.handlers:
        if isinstance(handler, HTTPCookieProcessor):
            return handler.cookiejar
    return CookieJar()


def _confirm_url(url: str, page: str, jar: CookieJar) -> str | None:
    """The URL that skips Drive's virus-scan warning: cookie token, download form, or link."""
    for cookie in jar:
        if cookie.name.startswith("download_warning") and cookie.value:
            return f"{url}&{urlencode({'confirm': cookie.value})}"
    parser = _FormParser()
    parser.feed(page)
    for action, fields in parser.forms:
        if "id" in fields or "confirm" in fields:
            return f"{urljoin(url, action or url)}?{urlencode(fields)}"
    match = re.search(r"confirm=([0-9A-Za-z_-]+)", page)
    return f"{url}&{urlencode({'confirm': match.group(1)})}" if match else None


class _FormParser(HTMLParser):
    """Collect each form's action and hidden inputs from an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.forms.append((values.get("action", ""), {}))
        elif tag == "input" and self.forms and values.get("type", "").lower() == "hidden":
            name = values.get("name")
            if name:
                self.forms[-1][1][name] = values.get("value", "")
