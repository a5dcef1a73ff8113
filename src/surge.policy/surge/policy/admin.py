"""The administration of the site belongs to the admin addresses.

nginx tells the instances where a request came from (``X-Surge-Admin: 0`` or
``1``, set by nginx alone; surge.policy.origin refuses any other value, and
no value from anywhere but the app servers). Two rules act on it here, after
Zope has parsed the request, authenticated its user and traversed to what it
would publish, and before it calls anything:

- An administrator from outside is refused, whatever the path, view or API:
  a user with the Manager or Site Administrator role on the site, or one of
  the permissions that open its setup (``SETUP_PERMISSIONS``), by any
  credentials (cookie, Basic, the REST API's token, a login form's fields).
  Credentials in a JSON body (plone.restapi's ``@login`` with any suffix)
  are checked too, so no token is issued to an administrator from outside.
  nginx's patterns are the cheap first filter; this is the rule.
- A request that named a method to call (``NAME:method``, ``NAME:action``,
  ``:default_method`` or ``:default_action``, in the query or the form body)
  is refused from outside: that reaches the management interface by another
  road than its URLs. nginx refuses such queries but cannot read bodies.
  Zope marks such a request itself: its input parser sets the request's own
  PATH_INFO to the path plus the method, which it sets for nothing else.

A request without the header comes from an app server (HAProxy's checks, an
operator's request there): surge.policy.origin lets nothing else through.
"""

import json

from AccessControl import getSecurityManager
from zExceptions import Forbidden
from zope.component.hooks import getSite

HEADER = "X-Surge-Admin"
ADMINISTRATOR_ROLES = frozenset(("Manager", "Site Administrator"))
# The permissions behind Plone's Site Setup, the management interface and the users' and groups' control.
SETUP_PERMISSIONS = ("Manage portal", "Plone Site Setup: Overview", "View management screens", "Manage users")
# Where body_user keeps its answer on the request.
BODY_USER = "surge.body_user"


def from_outside(request):
    """True when nginx said the client is not at an admin address."""
    return request.getHeader(HEADER) not in (None, "1")


def is_administrator(user, site):
    if user is None or user.getUserName() == "Anonymous User":
        return False
    if ADMINISTRATOR_ROLES & set(user.getRolesInContext(site)):
        return True
    return any(user.has_permission(permission, site) for permission in SETUP_PERMISSIONS)


def the_site(request):
    site = getSite()
    return site if site is not None else request["PARENTS"][-1]


def body_credentials(request):
    """(login, password) from a JSON body, as plone.restapi's @login reads them; None without both. The whole
    body, whatever its size (padding would hide the credentials from a size limit) or escapes."""
    if not (request.getHeader("Content-Type") or "").startswith("application/json"):
        return None
    body = request.get("BODY") or b""
    if not body:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("login"), str) and isinstance(data.get("password"), str):
        return data["login"], data["password"]
    return None


def body_user(request, site):
    """The user a JSON body's credentials authenticate, in the site's user folder or the root's. Found once per
    request (a password's hash is slow on purpose) and kept on it."""
    if BODY_USER not in request.other:
        request.other[BODY_USER] = None
        credentials = body_credentials(request)
        for owner in (site, request["PARENTS"][-1]) if credentials else ():
            user = owner.acl_users.authenticate(*credentials, request)
            if user is not None:
                request.other[BODY_USER] = user
                break
    return request.other[BODY_USER]


def refuse_administration_from_outside(event):
    """IPubAfterTraversal: Forbidden for an administrator's request, or a named method, from outside."""
    request = event.request
    if not from_outside(request):
        return
    if "PATH_INFO" in request.other:
        raise Forbidden("naming a method to call is for the admin addresses only")
    site = the_site(request)
    if is_administrator(getSecurityManager().getUser(), site) or is_administrator(body_user(request, site), site):
        raise Forbidden("the site's administrators work from the admin addresses only")
