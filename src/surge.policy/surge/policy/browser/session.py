"""@@surge-session: see and set a value in the visitor's Beaker session.

Operators use it to check that sessions are shared by every instance
(docs/sessions.rst): POST name=value through one instance, GET it through
another.
"""

import json

from Products.Five.browser import BrowserView

from surge.policy.session import ISession


class SessionView(BrowserView):
    def __call__(self):
        session = ISession(self.request)
        if self.request.method == "POST":
            for name, value in self.request.form.items():
                session[name] = value
            session.save()
        response = self.request.response
        response.setHeader("Cache-Control", "no-store")
        response.setHeader("Content-Type", "application/json")
        # Beaker keeps its own bookkeeping in the session under names starting with "_".
        values = {name: value for name, value in session.items() if not name.startswith("_")}
        return json.dumps({"id": session.id, "values": values}, default=str)
