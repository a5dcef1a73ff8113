"""Password guessing, limited wherever the credentials go.

nginx limits per address what it can see: the login paths (Plone's forms,
``@login`` with any suffix) and Basic credentials, and it refuses Plone's
login fields in a query. It cannot read a body: PAS takes Plone's login
fields (``__ac_name``, ``__ac_password``) from the form body of any request,
and plone.restapi takes ``{"login", "password"}`` at ``@login``. Here, after
Zope has parsed and authenticated the request and before it publishes
anything, a request whose body carries credentials:

- counts against its client address's budget: ``address-limit`` such
  requests per ``period`` seconds, whatever its URL and whether the
  credentials were right; beyond it, 429 with Retry-After;
- when the credentials were wrong, counts against the account's budget:
  ``account-limit`` failures per ``period`` from all addresses together;
  beyond it, every attempt for that account waits (429) until the period
  ends, from whatever address, so guessing one password from many addresses
  gets ``account-limit`` tries a period in all. An admin address is never
  made to wait for an account (an attacker could otherwise keep an
  administrator out).

The client address is the one nginx names for its limits
(``X-Surge-Limit-Address``, absent for its limit-exempt addresses, which are
not counted here either). The counts live in the app servers' memcached, so
every instance on either app server shares them; the keys hold a hash of the
login name, never the name. Without memcached (development, or every
memcached down) nothing is counted and nginx's limits remain.

Configured by zope.conf's ``<product-config surge.logins>``: ``memcached``
(HOST:PORT, space-separated), ``address-limit``, ``account-limit``,
``period``.
"""

import hashlib
import logging
import time

import memcache
from AccessControl import getSecurityManager
from App.config import getConfiguration
from zExceptions import HTTPTooManyRequests

from surge.policy.admin import body_credentials, body_user, from_outside, the_site

logger = logging.getLogger("surge.policy.guessing")
ADDRESS_HEADER = "X-Surge-Limit-Address"
_clients = {}


def settings():
    """The product-config's settings ({} when there is none: nothing is counted)."""
    config = (getattr(getConfiguration(), "product_config", None) or {}).get("surge.logins") or {}
    if not config.get("memcached"):
        return {}
    return {"memcached": tuple(config["memcached"].split()), "address-limit": int(config["address-limit"]),
            "account-limit": int(config["account-limit"]), "period": int(config["period"])}


def client(servers):
    """One memcached client per server list and process (python-memcached's is thread-local)."""
    if servers not in _clients:
        _clients[servers] = memcache.Client(list(servers), socket_timeout=1)
    return _clients[servers]


def login_sent(request):
    """The login name of the credentials a request's form or JSON body carries (lowercased, as Plone
    compares them), else None."""
    if "__ac_password" in request.form:
        login = request.form.get("__ac_name", "")
        return (login if isinstance(login, str) else "").strip().lower()
    credentials = body_credentials(request)
    return credentials[0].strip().lower() if credentials else None


class Budget:
    """Attempts under one key in a period that starts with the first of them (memcached forgets both keys
    when it ends), so a count never restarts on a clock's boundary."""

    def __init__(self, cache, key, period):
        self.cache, self.key, self.period = cache, key, period

    def spend(self):
        """The attempts in this period after adding one; None when memcached does not answer."""
        self.cache.add(self.key + ":start", str(int(time.time())), time=self.period)
        self.cache.add(self.key, "0", time=self.period)
        return self.cache.incr(self.key)

    def spent(self):
        return int(self.cache.get(self.key) or 0)

    def seconds_left(self):
        start = self.cache.get(self.key + ":start")
        return max(1, int(start) + self.period - int(time.time())) if start else self.period


class TooManyRequests(HTTPTooManyRequests):
    """zExceptions' 429. Zope's response finds an exception's status by its class's name, and has
    "toomanyrequests", not "httptoomanyrequests" (which it would answer with 500)."""


def refuse(budget, why):
    error = TooManyRequests(why)
    error.setHeader("Retry-After", str(budget.seconds_left()))
    raise error


def limit_guessing(event):
    """IPubAfterTraversal: 429 for a request carrying credentials over its address's or its account's budget."""
    request = event.request
    address = request.getHeader(ADDRESS_HEADER)
    config = settings()
    if not address or not config:
        return
    login = login_sent(request)
    if login is None:
        return
    cache, period = client(config["memcached"]), config["period"]
    by_address = Budget(cache, f"surge-login-address:{address}", period)
    sent = by_address.spend()
    if sent is None:
        logger.warning("memcached does not answer: login attempts in a body are not counted")
        return
    if sent > config["address-limit"]:
        refuse(by_address, "too many login attempts from your address")
    by_account = Budget(cache, f"surge-login-account:{hashlib.sha256(login.encode()).hexdigest()}", period)
    if from_outside(request) and by_account.spent() >= config["account-limit"]:
        refuse(by_account, "too many failed logins for this account")
    if not succeeded(request, login):
        by_account.spend()


def succeeded(request, login):
    """Whether the credentials sent for LOGIN were right: a form's made Zope's user (PAS read them while
    traversing); a JSON body's are asked of the user folders (the @login service reads them only later)."""
    if "__ac_password" in request.form:
        user = getSecurityManager().getUser()
    else:
        user = body_user(request, the_site(request))
    return user is not None and (user.getUserName() or "").lower() == login
