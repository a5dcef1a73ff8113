"""The site's visitors: anonymous readers, members, authors (Locust users).

Anonymous visitors read the front page, sections, pages and news, and
search (a share of them, the searchers, only with queries nobody sent
before); a new visitor also fetches the page's CSS and JavaScript once, as a
browser with an empty cache does. Members log in and read pages, their
dashboard and their profile, which are never cached. Authors log in and edit
their own page through Plone's edit form, as a browser does (the form's CSRF
token included). Every request is named "CLASS: what", so that figures can
be given per class. Weights, think times and sizes are settings
(surge.loadtest.settings; docs/load-testing.rst).
"""

import random
import re
import time
import urllib.parse
import uuid

import gevent.ssl
from locust import FastHttpUser, events, task
from locust.runners import WorkerRunner

from surge.loadtest import content, samples
from surge.loadtest.forms import find_form, same_site
from surge.loadtest.settings import add_arguments, think_time

STATIC = re.compile(r'(?:href|src)="([^"]+\.(?:css|js)(?:\?[^"]*)?)"')
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@events.init_command_line_parser.add_listener
def _(parser):
    add_arguments(parser)


@events.init.add_listener
def configure(environment, **kwargs):
    options = environment.parsed_options
    if options is None:
        return
    try:
        Anonymous.wait_time = think_time(options.anonymous_think, "anonymous-think")
        Member.wait_time = think_time(options.member_think, "member-think")
        Author.wait_time = think_time(options.author_think, "author-think")
        Searcher.wait_time = Anonymous.wait_time
    except ValueError as error:
        raise SystemExit(f"loadtest: {error}") from None
    if not 0 <= options.fresh_search_share <= 100:
        raise SystemExit(f"loadtest: --fresh-search-share = {options.fresh_search_share} is not a percent (0-100)")
    # Weights are whole numbers: in hundredths, so the searchers' percent of the readers is exact.
    Anonymous.weight = options.anonymous_weight * (100 - options.fresh_search_share)
    Searcher.weight = options.anonymous_weight * options.fresh_search_share
    Member.weight, Author.fixed_count = options.member_weight * 100, options.authors
    if options.samples:
        samples.record(environment, options.samples)
    if options.admin_password_file and not isinstance(environment.runner, WorkerRunner):
        content.prepare(options)


def trusting(ca_file):
    """An SSL context factory for geventhttpclient that trusts CA_FILE (else its own CA bundle)."""
    def factory(cafile=None, **kwargs):
        return gevent.ssl.create_default_context(cafile=ca_file or cafile)
    return factory


class Visitor(FastHttpUser):
    abstract = True
    kind = ""
    # Certificates are checked, as browsers do.
    insecure = False
    # Visitors of the class that logged in so far (each class counts its own).
    started = 0

    def __init__(self, environment):
        options = environment.parsed_options
        # Each visitor picks one of the site's addresses, as DNS round robin would.
        self.host = random.choice(options.sites.split())
        self.ssl_context_factory = trusting(options.ca_file)
        super().__init__(environment)
        self.options = options

    def get(self, path, name, expect=None):
        """GET PATH; a failure unless it answers 200 (with EXPECT in the page)."""
        with self.client.get(path, name=f"{self.kind}: {name}", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code or response.error!r} for {path}")
            elif expect and expect not in response.text:
                response.failure(f"no {expect} in {path}")
            return response

    def read_page(self):
        self.get(random.choice(content.page_paths(self.options)), "page")

    def log_in(self, names):
        """Log in with the next of the accounts NAMES: visitors of a class use them in turn."""
        type(self).started += 1
        self.name = names[type(self).started % len(names)]
        form = content.login_form(self.name, self.options.account_password)
        # Plone redirects to its public name: a visitor stays on the server it picked.
        with self.client.post("/login", data=form, headers=FORM, allow_redirects=False,
                              name=f"{self.kind}: log in", catch_response=True) as response:
            if not any(cookie.name == "__ac" for cookie in self.client.cookiejar):
                response.failure(f"no __ac cookie after logging in as {self.name}")


class Anonymous(Visitor):
    kind = "anonymous"
    weight = 90
    # One cache of static resource URLs for all visitors: the pages share them.
    static = None

    def on_start(self):
        # A new visitor's browser fetches the front page's resources once.
        page = self.get("/", "front page")
        if Anonymous.static is None and page.status_code == 200:
            sites = self.options.sites.split()
            Anonymous.static = sorted(filter(None, (same_site(url, sites) for url in STATIC.findall(page.text))))
        for url in Anonymous.static or ():
            self.get(url, "static resource")

    @task(3)
    def front_page(self):
        self.get("/", "front page")

    @task(2)
    def section(self):
        self.get(random.choice(content.section_paths(self.options)), "section")

    @task(4)
    def page(self):
        self.read_page()

    @task(2)
    def news(self):
        self.get("/news", "news")

    @task(3)
    def news_item(self):
        self.get(random.choice(content.news_paths(self.options)), "news item")

    @task(1)
    def search(self):
        self.get(f"/@@search?SearchableText={random.choice(content.WORDS)}", "search")


class Searcher(Visitor):
    """A reader who searches the site with a query string nobody sent before: Varnish cannot answer it,
    every one reaches the shared pool (a stampede's uncacheable load)."""

    kind = "anonymous"
    # Locust drops classes of weight 0 before configure() sets the weights; its dispatcher skips them after.
    weight = 1

    @task
    def fresh_search(self):
        self.get(f"/@@search?SearchableText={random.choice(content.WORDS)}&fresh={uuid.uuid4().hex}", "fresh search")


class Member(Visitor):
    kind = "member"
    weight = 10

    def on_start(self):
        self.log_in(content.member_names(self.options))

    @task(6)
    def page(self):
        self.read_page()

    @task(2)
    def news_item(self):
        self.get(random.choice(content.news_paths(self.options)), "news item")

    @task(1)
    def dashboard(self):
        self.get("/@@dashboard", "dashboard")

    @task(1)
    def profile(self):
        self.get("/@@personal-information", "profile")


class Author(Visitor):
    kind = "author"
    fixed_count = 2

    def on_start(self):
        self.log_in(content.author_names(self.options))

    @task(3)
    def edit(self):
        path = content.desk_page(self.name)
        form = self.get(f"{path}/edit", "edit form", expect="_authenticator")
        action, fields = find_form(form.text, "edit") if form.status_code == 200 else (None, None)
        if fields is None:
            return
        stamp = time.strftime("%H:%M:%S")
        for key in fields:
            if key.endswith(".title"):
                fields[key] = [f"Page of {self.name}, saved {stamp}"]
            elif key.endswith(".text"):
                fields[key] = [f"<p>Edited by {self.name} at {stamp}.</p>"]
        fields["form.buttons.save"] = ["Save"]
        target = same_site(action, self.options.sites.split()) or action
        with self.client.post(target, data=urllib.parse.urlencode(fields, doseq=True), headers=FORM,
                              name="author: save", catch_response=True, allow_redirects=False) as response:
            # Saved: Plone redirects to the page. An error shows the form again
            # (200); a lost login redirects to the login form.
            location = urllib.parse.urlsplit(response.headers.get("Location", "")).path.rstrip("/")
            if response.status_code != 302 or not location.endswith(path):
                response.failure(f"{response.status_code} to {location or 'nowhere'}: {path} was not saved")

    @task(1)
    def view(self):
        self.get(content.desk_page(self.name), "own page")

    @task(1)
    def folder_contents(self):
        self.get("/desk/folder_contents", "folder contents")
