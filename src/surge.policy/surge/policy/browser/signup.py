"""@@surge-signup: the newsletter sign-up, stored in the policy's SQL table.

POST email=... records a sign-up (in the same transaction as Zope); GET
answers how many there are, as JSON.
"""

import json
import re

from Products.Five.browser import BrowserView

from surge.policy import data

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SignupView(BrowserView):
    def __call__(self):
        response = self.request.response
        response.setHeader("Cache-Control", "no-store")
        response.setHeader("Content-Type", "application/json")
        answer = {}
        if self.request.method == "POST":
            email = self.request.form.get("email", "").strip().lower()
            if not EMAIL.match(email):
                response.setStatus(400)
                return json.dumps({"error": "not an e-mail address"})
            answer["added"] = data.add_signup(email)
        answer["count"] = data.count_signups()
        return json.dumps(answer)
