"""bin/admin-password: give the Zope root's administrator the password read from standard input.

Zope makes its administrator from ``inituser`` only while the root user
folder is Zope's own; once the Plone site exists, the root's user folder is
Plone's (PAS), whose user manager keeps the administrator and never reads
``inituser`` again. The database is shared, so one run on one app server
changes the password for every instance at once. bin/rotate-secret
zope-admin-password runs it as the instances' user, with the new secret on
standard input (never on a command line, which other local users can read).
"""

import argparse
import sys

import transaction

from surge.policy.scripts.zopeapp import open_zope, require_user


def user_manager(app, admin):
    """The root user folder's plugin that keeps ADMIN's password."""
    for plugin in app.acl_users.objectValues():
        if hasattr(plugin, "updateUserPassword") and admin in plugin.listUserIds():
            return plugin
    raise SystemExit(f"admin-password: the Zope root's user folder has no user {admin}; nothing changed")


def main(zope_conf, admin, run_as="", argv=None):
    parser = argparse.ArgumentParser(prog="admin-password", description=__doc__.split("\n\n")[0])
    parser.parse_args(sys.argv[1:] if argv is None else argv)
    require_user(run_as, "admin-password")
    password = sys.stdin.read().strip()
    if not password:
        raise SystemExit("admin-password: no password on standard input; nothing changed")
    app = open_zope(zope_conf)
    try:
        user_manager(app, admin).updateUserPassword(admin, password)
        transaction.get().note(f"admin-password: {admin}'s password")
        transaction.commit()
    finally:
        transaction.abort()
        app._p_jar.close()
    print(f"admin-password: the Zope administrator {admin} has the new password", flush=True)
    return 0
