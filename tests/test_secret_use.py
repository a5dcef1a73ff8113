"""A template reads a secret by name: its value reaches the rendered file, never
.installed.cfg, and the file is its owner's (and one reader's group's) only.
Values a consumer's syntax would mangle, and one value shared by two
secrets, are refused before anything changes."""

import os
import pwd
import stat

import pytest
from small_buildout import STRONG, fails_and_keeps_live_file

USES_SECRET = 'LISTEN = "{{ options.listen }}"\nPASSWORD = "{{ secrets[\'zope-admin-password\'] }}"\n'
OTHER = "Hj4-8wNq_Tz2kLp6Rv9cXe3M"


def installed(case):
    with open(os.path.join(case.directory, ".installed.cfg")) as stream:
        return stream.read()


def test_a_secret_reaches_the_file_and_not_installed_cfg(case):
    case.secrets(zope_admin_password=STRONG)
    case.template(USES_SECRET)
    case.build({"demo": {"secrets": "zope-admin-password"}})
    assert f'PASSWORD = "{STRONG}"' in case.snapshot()[0]
    assert stat.S_IMODE(os.stat(case.live).st_mode) == 0o600
    assert STRONG not in installed(case)


def test_a_file_holding_a_secret_is_readable_by_its_readers_group_only(case):
    case.secrets(zope_admin_password=STRONG)
    case.template(USES_SECRET)
    case.build({"demo": {"secrets": "zope-admin-password", "reader": "nobody"}})
    status = os.stat(case.live)
    assert stat.S_IMODE(status.st_mode) == 0o640
    assert status.st_gid == pwd.getpwnam("nobody").pw_gid


def test_a_secret_the_build_does_not_list_is_refused(case):
    case.template(USES_SECRET)
    fails_and_keeps_live_file(case, {"demo": {"secrets": "no-such-secret"}},
                              "[demo] secrets", "names the secrets no-such-secret, which [secrets] names does not list")


@pytest.mark.parametrize("character", ["'", "\\", '"', "%"])
def test_a_character_a_consumer_would_mangle_is_refused(case, character):
    # The DSN quotes with ', rsyslog with " and \\, wsgi.ini interpolates %: refused in every mode.
    case.secrets(zope_admin_password=STRONG[:8] + character + STRONG[8:])
    fails_and_keeps_live_file(case, {}, "[secrets] zope-admin-password contains " + repr(character))


def test_two_secrets_with_one_value_are_refused(case):
    case.secrets(zope_admin_password=STRONG, beaker_secret=STRONG)
    fails_and_keeps_live_file(case, {"secrets": {"names +": "zope-admin-password beaker-secret"}},
                              "[secrets] zope-admin-password and beaker-secret have the same value")


def test_a_changed_secret_rewrites_the_file(case):
    case.secrets(zope_admin_password=STRONG)
    case.template(USES_SECRET)
    case.build({"demo": {"secrets": "zope-admin-password"}})
    case.secrets(zope_admin_password=OTHER)
    case.build({"demo": {"secrets": "zope-admin-password"}})
    assert f'PASSWORD = "{OTHER}"' in case.snapshot()[0]
