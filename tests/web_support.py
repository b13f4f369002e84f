"""A browser-like HTTP client for the page tests (no JavaScript): keeps cookies, follows redirects one by
one, logs in through the realm's login page (authorization code + PKCE done by the gateway), posts forms
with the page's CSRF token and reads what a page shows next to a field."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin

import requests
from bs4 import BeautifulSoup

from tests.conftest import GATEWAY_ADDRESS
from tests.helpers import demo_totp

BASE = f"http://{GATEWAY_ADDRESS}"
TIMEOUT = 30


class WebClient:
    def __init__(self):
        self.http = requests.Session()
        self.page: requests.Response | None = None
        self.url = ""
        self.token = ""  # the CSRF token of the last full page (an htmx fragment has none)

    def go(self, url: str, data: dict | None = None, **kwargs) -> requests.Response:
        method = "POST" if data is not None else "GET"
        url = url if url.startswith("http") else BASE + url
        for _ in range(20):
            resp = self.http.request(method, url, data=data, allow_redirects=False, timeout=TIMEOUT, **kwargs)
            for cookie in self.http.cookies:  # Keycloak's cookies are Secure even over http on loopback
                if cookie.domain in ("127.0.0.1", "localhost"):
                    cookie.secure = False
            if resp.status_code not in (301, 302, 303, 307, 308):
                self.page, self.url = resp, url
                found = re.search(r'name="csrf" value="([^"]+)"', resp.text)
                if found:
                    self.token = found.group(1)
                return resp
            url, method, data, kwargs = urljoin(url, resp.headers["Location"]), "GET", None, {}
        raise AssertionError(f"too many redirects, last {url}")

    def csrf(self) -> str:
        assert self.token, f"no CSRF token seen yet ({self.url})"
        return self.token

    def post(self, path: str, data: dict, **kwargs) -> requests.Response:
        """POST a form of the current page (its CSRF token added)."""
        return self.go(path, data={"csrf": self.csrf(), **data}, **kwargs)

    def login(self, region: str, username: str, password: str, totp: bool = False, next_path: str = "") -> None:
        page = self.go(f"/{region}/connexion" + (f"?next={next_path}" if next_path else ""))
        action, fields = form(page, "kc-form-login")
        fields.update(username=username, password=password)
        page = self.go(html.unescape(action), data=fields)
        if totp and 'id="otp"' in page.text:
            action, fields = form(page, "kc-otp-login-form")
            fields["otp"] = demo_totp()
            page = self.go(html.unescape(action), data=fields)
        assert self.url.startswith(BASE), f"login of {username} stopped at {self.url}: {text(page)[:400]}"

    def field_error(self, name: str) -> str | None:
        """The message shown next to field `name` (id « f-<name>-err »), or None."""
        soup = BeautifulSoup(self.page.text, "html.parser")
        node = soup.find(id="f-" + re.sub(r"[^0-9A-Za-z_]", "-", name) + "-err")
        return node.get_text(" ", strip=True) if node else None

    def notices(self) -> str:
        soup = BeautifulSoup(self.page.text, "html.parser")
        return " ".join(n.get_text(" ", strip=True) for n in soup.select(".notice"))

    def main(self) -> str:
        soup = BeautifulSoup(self.page.text, "html.parser")
        return soup.find("main").get_text(" ", strip=True)

    def value(self, name: str, form_action: str | None = None) -> str | None:
        """Value of the hidden or text input `name` (in the form posting to `form_action` when given)."""
        soup = BeautifulSoup(self.page.text, "html.parser")
        scope = soup.find("form", action=form_action) if form_action else soup
        node = scope.find("input", attrs={"name": name}) if scope else None
        return node.get("value") if node else None


def form(page: requests.Response, form_id: str) -> tuple[str, dict]:
    soup = BeautifulSoup(page.text, "html.parser")
    found = soup.find("form", id=form_id)
    assert found is not None, f"no form #{form_id}: {soup.get_text(' ', strip=True)[:300]}"
    return found["action"], {i["name"]: i.get("value", "") for i in found.find_all("input") if i.get("name")}


def text(page: requests.Response) -> str:
    return BeautifulSoup(page.text, "html.parser").get_text(" ", strip=True)
