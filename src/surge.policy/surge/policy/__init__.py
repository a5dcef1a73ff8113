"""The Surge site policy."""

from zope.i18nmessageid import MessageFactory

_ = MessageFactory("surge.policy")
