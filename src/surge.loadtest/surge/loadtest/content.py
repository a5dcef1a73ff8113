"""The content and accounts the visitors need, made once through plone.restapi.

Everything is made only when it is missing, so preparing a site that is
ready takes a few requests. Pages are published, so anonymous visitors (and
Varnish) see them.
"""

import time
import urllib.parse

import requests

from surge.buildout import secretsfile

WORDS = ("harbour", "festival", "timetable", "weather", "council", "library", "concert", "market")
AUTHOR_ROLES = ["Member", "Editor"]
# bin/bench's probe (surge.loadtest.probe): an author and a member apart from Locust's.
PROBE_AUTHOR = "author-probe"
PROBE_MEMBER = "member-probe"


def section_paths(options):
    return [f"/section-{s}" for s in range(1, options.sections + 1)]


def page_paths(options):
    return [f"{section}/page-{p}" for section in section_paths(options) for p in range(1, options.pages + 1)]


def news_paths(options):
    return [f"/news/loadtest-news-{n}" for n in range(1, options.news + 1)]


def member_names(options):
    return [f"member-{n}" for n in range(1, options.members + 1)]


def author_names(options):
    return [f"author-{n}" for n in range(1, options.authors + 1)]


def desk_page(author):
    """The page an author edits: one each, so authors do not conflict with each other."""
    return f"/desk/{author}"


def text_of(title):
    words = " ".join(WORDS[(len(title) + i) % len(WORDS)] for i in range(40))
    return {"content-type": "text/html", "encoding": "utf-8", "data": f"<p>{title}: {words}.</p>"}


def login_form(name, password):
    """The body of a POST to Plone's login form (urlencoded)."""
    return urllib.parse.urlencode({"__ac_name": name, "__ac_password": password, "buttons.login": "Log in",
                                   "came_from": ""})


def admin_password(path):
    try:
        return secretsfile.value(path, "zope-admin-password")
    except secretsfile.SecretsFileError as error:
        raise SystemExit(f"loadtest: {error} (--admin-password-file)") from None


def account_password(path):
    """The accounts' password, kept in PATH (mode 0600) so that later runs reuse it."""
    values, _ = secretsfile.ensure(path, ["password"], "The load test's accounts on the sites it prepared; "
                                   "never a production secret.", section="accounts")
    return values["password"]


class Site:
    """plone.restapi as the site's admin."""

    def __init__(self, url, password, ca_file=""):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.auth = ("admin", password)
        # Per request: requests lets REQUESTS_CA_BUNDLE override a session's own CA.
        self.verify = ca_file or True
        self.session.headers.update({"Accept": "application/json", "Content-Type": "application/json"})
        self.made = 0

    def call(self, method, path, expect, **kwargs):
        response = self.session.request(method, self.url + path, timeout=60, verify=self.verify, **kwargs)
        if response.status_code not in expect:
            raise SystemExit(f"loadtest: {method} {self.url}{path} answered {response.status_code}: "
                             f"{response.text[:300]}")
        return response

    def get(self, path):
        """The object's JSON, or None when there is none."""
        response = self.call("GET", path, (200, 404))
        return response.json() if response.status_code == 200 else None

    def ensure(self, path, portal_type, title, text=None):
        """Make the object at PATH unless it exists; publish it."""
        found = self.get(path)
        if found is None:
            parent, name = path.rsplit("/", 1)
            body = {"@type": portal_type, "id": name, "title": title}
            if text:
                body["text"] = text
            self.call("POST", parent or "/", (201,), json=body)
            self.made += 1
            found = {"review_state": "private"}
        if found.get("review_state") != "published":
            self.call("POST", f"{path}/@workflow/publish", (200,), json={})

    def ensure_user(self, name, password, roles):
        path = f"/@users/{name}"
        if self.get(path) is None:
            self.call("POST", "/@users", (201,), json={"username": name, "email": f"{name}@example.org",
                                                       "password": password, "roles": roles})
            self.made += 1
        else:
            # The password may have been made by an earlier run with another accounts file.
            self.call("PATCH", path, (204,), json={"password": password, "roles": dict.fromkeys(roles, True)})


def prepare(options, say=print):
    """Make what the visitors read and the accounts they log in with."""
    started = time.monotonic()
    site = Site(options.sites.split()[0], admin_password(options.admin_password_file), options.ca_file)
    say(f"loadtest: preparing {site.url}: {options.sections} sections of {options.pages} pages, "
        f"{options.news} news items, {options.members} members, {options.authors} authors")
    for number, path in enumerate(section_paths(options), 1):
        site.ensure(path, "Folder", f"Section {number}")
    for path in page_paths(options):
        title = path.strip("/").replace("/", " ").replace("-", " ").capitalize()
        site.ensure(path, "Document", title, text_of(title))
    for number, path in enumerate(news_paths(options), 1):
        site.ensure(path, "News Item", f"News {number}", text_of(f"News {number}"))
    site.ensure("/desk", "Folder", "Desk")
    for name in (*member_names(options), PROBE_MEMBER):
        site.ensure_user(name, options.account_password, ["Member"])
    for name in (*author_names(options), PROBE_AUTHOR):
        site.ensure_user(name, options.account_password, AUTHOR_ROLES)
        site.ensure(desk_page(name), "Document", f"Page of {name}", text_of(name))
    say(f"loadtest: {site.url} ready ({site.made} made) in {time.monotonic() - started:.0f} s")
