"""The Surge site policy."""

from zope.i18nmessageid import MessageFactory

# A request that meets a database failover is retried (imported for its patch).
from surge.policy import database_retry  # noqa: F401

_ = MessageFactory("surge.policy")
