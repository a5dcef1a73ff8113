"""Opening the site's database from a script (bin/create-site, bin/migrate).

The development database (RelStorage on SQLite) and production's (RelStorage
on PostgreSQL) both accept several processes, so a script runs beside the
running instances.
"""

import os
import pwd
import sys


def open_zope(zope_conf):
    """The Zope root, with a request and the system user, as a script needs."""
    from AccessControl import SpecialUsers
    from AccessControl.SecurityManagement import newSecurityManager
    from Testing.makerequest import makerequest
    from zope.globalrequest import setRequest
    from Zope2.Startup.run import configure_wsgi

    configure_wsgi(zope_conf)
    import Zope2

    app = makerequest(Zope2.app())
    setRequest(app.REQUEST)
    # SpecialUsers.system is only set once Zope has started.
    newSecurityManager(None, SpecialUsers.system)
    return app


def require_user(user, program):
    """The database's files (the blob cache) must belong to the instances' user."""
    if user and pwd.getpwuid(os.geteuid()).pw_name != user:
        raise SystemExit(f"{program}: run me as {user}, the user the instances run as, so that the "
                         f"files I create are theirs: sudo -u {user} {sys.argv[0]}")
