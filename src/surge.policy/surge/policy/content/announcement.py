"""Announcement: a notice to every visitor (the site's own Dexterity type)."""

from plone.app.textfield import RichText
from plone.dexterity.content import Item
from plone.supermodel import model
from zope import schema
from zope.interface import implementer

from surge.policy import _


class IAnnouncement(model.Schema):
    text = RichText(
        title=_("Text"),
        description=_("What visitors read."),
        required=False,
    )
    urgent = schema.Bool(
        title=_("Urgent"),
        description=_("Urgent announcements are shown highlighted."),
        required=False,
        default=False,
    )


@implementer(IAnnouncement)
class Announcement(Item):
    """An announcement; shown until its expiration date (Dublin Core)."""
