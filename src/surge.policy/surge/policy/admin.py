"""Zope's publisher calls the method a request names, whatever its path:
``NAME:method``, ``NAME:action``, ``:default_method`` or ``:default_action``
in the query or the form body. That reaches the management
interface by another road than its URLs. nginx refuses such queries from
outside the admin addresses, but it cannot read bodies; it tells the
instances where a request came from instead (``X-Surge-Admin: 0`` or ``1``,
set by nginx alone). A request that named a method and came from outside is
refused here, after Zope parsed it and before it calls anything. Zope marks
such a request itself: its input parser sets the request's own PATH_INFO to
the path plus the method, which it sets for nothing else.

A request without the header did not come through nginx: from an app server,
which the firewall admits only from the servers themselves.
"""

from zExceptions import Forbidden

HEADER = "X-Surge-Admin"


def refuse_named_methods_from_outside(event):
    """IPubAfterTraversal: Forbidden when the request named a method and nginx says it came from outside."""
    request = event.request
    if "PATH_INFO" in request.other and request.getHeader(HEADER) == "0":
        raise Forbidden("naming a method to call is for the admin addresses only")
