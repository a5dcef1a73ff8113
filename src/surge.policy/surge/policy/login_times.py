"""A login writes to the database only on the member's first login.

Plone's login (``MembershipTool.loginUser``) stores the member's
``login_time`` and ``last_login_time`` on every login: a ZODB write. In a
login storm, every login is then a commit through RelStorage's commit lock,
and logins of different members that land in one bucket of the member
properties' BTree conflict, so Zope runs them again from the start (the
cluster's spike bench logged a ConflictError for one login in ten). Plone
itself reads ``login_time`` only to tell a member's first login (the login
form's and the password reset's redirect, the ``UserInitialLoginInEvent``),
so that is the one login written; the times of later logins are not kept.
"""

from DateTime import DateTime

# What Products.PlonePAS stores until the first login.
NEVER = DateTime("2000/01/01")


def set_first_login_time(self):
    """MembershipTool.setLoginTimes writing only a first login; True for the first login, as Plone's."""
    if self.isAnonymousUser():
        return False
    member = self.getAuthenticatedMember()
    if member.getProperty("login_time", NEVER) != NEVER:
        return False
    now = self.ZopeTime()
    member.setProperties(login_time=now, last_login_time=now)
    return True
