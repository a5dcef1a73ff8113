"""Forms and links of a page as a browser follows them."""

import urllib.parse
from html.parser import HTMLParser

SKIPPED_INPUTS = {"submit", "button", "image", "reset", "file"}


class Forms(HTMLParser):
    """Every form of a page: [(action, {name: [values]})]."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms, self.fields = [], None
        self.textarea = self.select = None

    def add(self, name, value):
        if self.fields is not None and name:
            self.fields.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.fields = {}
            self.forms.append((attrs.get("action") or "", self.fields))
        elif tag == "input":
            kind = (attrs.get("type") or "text").lower()
            if kind in SKIPPED_INPUTS or (kind in ("checkbox", "radio") and "checked" not in attrs):
                return
            self.add(attrs.get("name"), attrs.get("value") or "")
        elif tag == "textarea":
            self.textarea = [attrs.get("name"), ""]
        elif tag == "select":
            self.select = attrs.get("name")
        elif tag == "option" and self.select and "selected" in attrs:
            self.add(self.select, attrs.get("value") or "")

    def handle_data(self, data):
        if self.textarea:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self.textarea:
            self.add(*self.textarea)
            self.textarea = None
        elif tag == "select":
            self.select = None
        elif tag == "form":
            self.fields = None


def find_form(page, action_suffix):
    """(action, fields) of the page's form whose action ends with ACTION_SUFFIX, or (None, None)."""
    parser = Forms()
    parser.feed(page)
    return next(((action, fields) for action, fields in parser.forms if action.endswith(action_suffix)), (None, None))


def same_site(url, sites):
    """The path (and query) of URL when it is one of SITES' (or relative), else None.

    Plone writes absolute URLs with the site's public name; a visitor keeps
    to the web server it picked, as a browser keeps to the address DNS gave
    it, so it requests the path from its own server.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.netloc and parts.netloc not in {urllib.parse.urlsplit(site).netloc for site in sites}:
        return None
    return urllib.parse.urlunsplit(("", "", parts.path, parts.query, "")) if parts.path.startswith("/") else None
