"""@@surge-session: see and set a value in the visitor's Beaker session.

Operators use it to check that sessions are shared by every instance
(docs/sessions.rst): POST name=value through one instance, GET it through
another.

Only a logged-in user may write, with Plone's CSRF token (``_authenticator``,
which a GET by that user returns as ``token``), and at most MAX_FIELDS
fields of MAX_BYTES in all: the sessions live in memcached beside
RelStorage's cache, and an anonymous client must not fill it.
"""

import json

from AccessControl import getSecurityManager
from plone.protect.authenticator import check, createToken
from Products.Five.browser import BrowserView
from zExceptions import Forbidden, Unauthorized

from surge.policy.session import ISession

MAX_FIELDS = 10
MAX_BYTES = 4096
TOKEN = "_authenticator"


def anonymous():
    return getSecurityManager().getUser().getUserName() == "Anonymous User"


class SessionView(BrowserView):
    def __call__(self):
        response = self.request.response
        response.setHeader("Cache-Control", "no-store")
        session = ISession(self.request)
        if self.request.method == "POST":
            self.store(session)
        response.setHeader("Content-Type", "application/json")
        # Beaker keeps its own bookkeeping in the session under names starting with "_".
        answer = {"id": session.id,
                  "values": {name: value for name, value in session.items() if not name.startswith("_")}}
        if not anonymous():
            answer["token"] = createToken()
        return json.dumps(answer, default=str)

    def store(self, session):
        if anonymous():
            raise Unauthorized("log in to write to your session")
        check(self.request)  # Forbidden without a valid _authenticator
        fields = {name: value for name, value in self.request.form.items() if name != TOKEN}
        size = sum(len(str(name)) + len(str(value)) for name, value in fields.items())
        if len(fields) > MAX_FIELDS or size > MAX_BYTES:
            raise Forbidden(f"at most {MAX_FIELDS} fields of {MAX_BYTES} bytes in all")
        for name, value in fields.items():
            session[name] = value
        session.save()
