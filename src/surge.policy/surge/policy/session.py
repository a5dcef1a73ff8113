"""Beaker sessions for Plone code: what collective.beaker gave on Plone 4.

The Beaker WSGI filter in every instance's pipeline puts the visitor's
session into the WSGI environment; with memcached behind it (production)
every instance of both application servers sees the same session, so
sessions need not be sticky.

    from surge.policy.session import ISession
    session = ISession(request)
    session["basket"] = [...]
    session.save()
"""

from zope.component import adapter
from zope.interface import Interface, implementer
from zope.publisher.interfaces.http import IHTTPRequest

ENVIRON_KEY = "beaker.session"


class ISession(Interface):
    """The visitor's Beaker session: a dictionary; call save() after a change."""


class NoSession(LookupError):
    """The WSGI pipeline has no Beaker filter (see docs/sessions.rst)."""


@implementer(ISession)
@adapter(IHTTPRequest)
def session_for_request(request):
    try:
        return request.environ[ENVIRON_KEY]
    except KeyError:
        raise NoSession("no Beaker session in this request: the instance's WSGI pipeline lacks the beaker filter")
