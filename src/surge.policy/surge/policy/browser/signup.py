"""@@surge-signup: the newsletter sign-up, stored in the policy's SQL table.

A public form, so it takes what a public form must:

- GET answers Plone's CSRF token (``token``), which a POST sends back as
  ``_authenticator``. An anonymous visitor's token is the same for every
  anonymous visitor, so a browser's own word decides too: a POST whose
  ``Origin`` is another site, or which the browser marks cross-site
  (``Sec-Fetch-Site``), is refused (403), as is one without the token.
- POST ``email=...`` records a sign-up (in the same transaction as Zope) and
  answers ``{"status": "received"}`` whether the address was new or not:
  nobody learns from it whether an address is subscribed.
- nginx limits it per address like a login ([nginx-settings] login-paths).
- The count is for the admin addresses and the app servers only.
"""

import json
import re
from urllib.parse import urlsplit

from plone.protect.authenticator import check, createToken
from Products.Five.browser import BrowserView

from surge.policy import data
from surge.policy.admin import from_outside

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def cross_site(request):
    """True when the browser says the POST comes from another site's page."""
    said = request.getHeader("Origin")
    if said and said != "null" and origin(said) != origin(request["SERVER_URL"]):
        return True
    return (request.getHeader("Sec-Fetch-Site") or "same-origin") not in ("same-origin", "none")


class SignupView(BrowserView):
    def __call__(self):
        response = self.request.response
        response.setHeader("Cache-Control", "no-store")
        response.setHeader("Content-Type", "application/json")
        if self.request.method == "POST":
            if cross_site(self.request):
                response.setStatus(403)
                return json.dumps({"error": "a sign-up comes from this site's own pages"})
            check(self.request)  # Forbidden without a valid _authenticator
            email = self.request.form.get("email", "").strip().lower()
            if not EMAIL.match(email):
                response.setStatus(400)
                return json.dumps({"error": "not an e-mail address"})
            data.add_signup(email)
            return json.dumps({"status": "received"})
        answer = {"token": createToken()}
        if not from_outside(self.request):
            answer["count"] = data.count_signups()
        return json.dumps(answer)
