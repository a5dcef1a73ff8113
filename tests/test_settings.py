"""Every settings key has a type: a bad value of each type fails the build naming file, section, key and value and
changes no file; an unknown key gets a did-you-mean; a private service on every interface is refused however the
address is written; in production, a ``[listen]`` address this machine does not have; a size or duration below its
floor (a zero a daemon would read as no limit, forever or never), while the zeros that are a choice are accepted; a
key nothing reads in ``[firewall]``, ``[releases]``, ``[debian]`` or ``[apply]``, and an option a top-level file
writes into a fragment's part; in production, admin and exempt networks that reach the internet (five forms) while
private ones build; seven pairs of settings that contradict each other, each refused with its numbers, while
agreeing ones build; patterns in quotes, two on a line or matching ordinary pages; Surge's own paths outside /_; a
misspelt or missing HTTP method; a misspelt release package; a web server among the app tier's sources; a daemon's
``binary`` that is another program (``/bin/true``, another daemon); in production the Zope or PostgreSQL user
shared with another daemon, HAProxy's group root; the site's role or database named as the superuser's, the logs'
or PostgreSQL's own.

The small buildout extends the real base.cfg; a settings section set here is
checked with its fragment's schema even though the fragment is not built.
One build per type; the other bad values of the list are checked against the
schema directly (the same code the build runs).
"""

import pytest
import zc.buildout.buildout
from small_buildout import STRONG, Case, fails_and_keeps_live_file

from conftest import TOP_LEVEL_FILES, free_port, repo_path

# (section, key, bad value, what the message says).
BAD_VALUES = [
    ("varnish-settings", "memory", "1X", "is not a size with a unit such as 256M or 1G"),
    ("postgres-settings", "work-mem", "16M", "is not a size with a unit such as 512MB or 2GB"),
    ("nginx-settings", "client-max-body-size", "64 m", "is not a size"),
    ("relstorage-settings", "blob-cache-size", "-2gb", "is not a size"),
    ("haproxy-settings", "queue-timeout", "30", "is not a duration with a unit such as 5s or 30s"),
    ("varnish-settings", "grace-sick", "6 hours", "is not a duration"),
    ("nginx-settings", "client-timeout", "30x", "is not a duration"),
    ("instance-settings", "count", "0", "is out of range: a whole number from 1 to 256"),
    ("memcached-settings", "connections", "-5", "is not a whole number"),
    ("instance-settings", "memory-limit", "1.2G", "is not a whole number (MB)"),
    ("backup-settings", "every", "200", "is out of range: a whole number (hours) from 1 to 168"),
    # The abuse limits: a limit of 0 refuses everyone, a period without its unit is not Varnish's.
    ("varnish-settings", "anonymous-limit", "0", "is out of range: a whole number (requests) from 10 to 100000"),
    ("varnish-settings", "anonymous-period", "30", "is not a duration"),
    ("instance-settings", "login-address-limit", "0", "is out of range: a whole number from 1 to 10000"),
    ("instance-settings", "login-account-limit", "five", "is not a whole number"),
    ("instance-settings", "login-period", "0", "is out of range: a whole number (seconds) from 1 to 86400"),
    ("beaker-settings", "secure", "yes", "is not one of true, false"),
    ("relstorage-settings", "keep-history", "off", "is not one of true, false"),
    ("settings", "mode", "staging", "is not one of development, production"),
    ("instance-settings", "memory-check", "TICK_7", "is not one of TICK_5, TICK_60, TICK_3600"),
    ("nginx-settings", "author-paths", "/(edit", "which is not a regular expression"),
    ("varnish-settings", "gzip-types", "^(text/", "which is not a regular expression"),
    ("nginx-settings", "zmi-allow", "10.0.0.0/33", "which is not an address or network"),
    ("nginx-settings", "mime-types", "/nonexistent/mime.types", "is not a file on this machine"),
    ("varnish-settings", "binary", "/nonexistent/varnishd", "is not a file on this machine"),
    # Paths that would end or comment out the value they land in (nginx's alias, Perl, shell).
    ("nginx-settings", "static-root", "/srv/surge static", "has ' ', which ends or comments out a value"),
    ("nginx-settings", "static-root", "/srv/static;deny", "has ';', which ends or comments out a value"),
    ("settings", "syslog-socket", "/run/surge#log.sock", "has '#', which ends or comments out a value"),
    ("munin-node-settings", "binary", "/usr/local/it's/munin-node", "has \"'\", which ends or comments out"),
    ("varnish-settings", "includes", "/etc/passwd /etc/varnish/\u2019b.vcl", "which ends or comments out"),
    # A policy pasted with typographic quotes, or one that closes nginx's double quotes.
    ("nginx-settings", "content-security-policy", "default-src \u2018self\u2019", "is not a Content Security Policy"),
    ("nginx-settings", "content-security-policy", "default-src 'self'\"; add_header X-Hack 1; #",
     "is not a Content Security Policy"),
    # A program that is not the daemon: /bin/true passes every check, another daemon checks another syntax.
    ("haproxy-settings", "binary", "/bin/true", "is not haproxy: '/bin/true -v' says 'nothing'"),
    ("firewall-settings", "binary", "/usr/sbin/nginx", "is not nft: '/usr/sbin/nginx --version' says"),
    ("nginx-settings", "binary", "/usr/sbin/haproxy", "is not nginx: '/usr/sbin/haproxy -v' says 'HAProxy version"),
    ("rsyslog-settings", "binary", "/bin/echo", "is not rsyslogd: '/bin/echo -v' says '-v'"),
    ("postgres-settings", "bin", "/nonexistent/bin", "is not a directory on this machine"),
    ("backup-settings", "folder", "var/backups", "is not an absolute path"),
    ("instance-settings", "caching-proxies", "ftp://web-1:6081", "which is not a http URL with a host"),
    ("instance-settings", "caching-proxies", "https://web-1:6081", "which is not a http URL with a host"),
    ("loadtest-settings", "sites", "https://", "which is not a http or https URL"),
    ("settings", "site-id", "my site", "is not a Zope id"),
    ("settings", "site-database", "Surge-DB", "is not a PostgreSQL name"),
    ("varnish-settings", "keep-cookies", "__ac bad;cookie", "which is not a cookie name"),
    ("topology", "app-servers", "app-master nowhere", "which is no key of [hosts]"),
    ("nginx-settings", "resolver", "0.0.0.0", "which is not a host name or IP address"),
    ("backup-settings", "owners", "surge:surge", "which is not DATABASE=ROLE"),
    ("remote-settings", "shell", 'ssh -o "ProxyCommand=nc x" root@{address}', "is not a command line of words"),
    ("remote-settings", "shell", "ssh root@{host}", "is not a command line of words"),
    ("remote-settings", "directory", "/srv/{server}/$HOME", "is not an absolute path, with {server}"),
    ("loadtest-settings", "member-think", "3..10", "is not MIN-MAX seconds"),
    ("nginx-settings", "worker-processes", "many", "is not auto or a number of processes"),
    # A zero that a daemon reads as "no limit", "forever" or "never", and values too small to mean anything.
    ("varnish-settings", "memory", "0M", "is less than 16M: the cache would hold next to nothing"),
    ("varnish-settings", "memory", "2k", "is less than 16M"),
    ("nginx-settings", "client-max-body-size", "0", "is less than 1m: less refuses an ordinary upload, and 0"),
    ("nginx-settings", "keepalive-timeout", "0s", "is less than 1s"),
    ("nginx-settings", "upstream-read-timeout", "500ms", "is less than 1s"),
    ("haproxy-settings", "queue-timeout", "0s", "is less than 100ms"),
    ("haproxy-settings", "server-timeout", "0ms", "0 means waiting forever"),
    ("haproxy-settings", "check-interval", "50us", "is less than 100ms"),
    ("varnish-settings", "first-byte-timeout", "0s", "is less than 100ms"),
    ("postgres-settings", "work-mem", "16kB", "is less than 64kB: PostgreSQL's minimum"),
    ("patroni-settings", "maximum-lag-on-failover", "0MB", "is less than 1MB"),
    ("rsyslog-settings", "queue-disk-space", "0m", "0 means no limit on the disk"),
    ("supervisor-settings", "logfile-maxbytes", "0MB", "0 never rotates the log"),
    ("relstorage-settings", "blob-cache-size", "0mb", "is less than 1mb"),
    # Patterns wrapped in quotes, two on one line, or matching every page (an empty alternative too).
    ("nginx-settings", "login-paths", '"/login$"', "with '\"': one pattern per line, no quote or white space"),
    ("nginx-settings", "admin-paths", "/manage$ /portal_setup", "with ' ': one pattern per line"),
    ("varnish-settings", "gzip-types", "^text/html\u201d", "with '\u201d': one pattern per line"),
    ("nginx-settings", "login-paths", "/login$|", "which matches '/', an ordinary page"),
    ("nginx-settings", "author-paths", "/(edit|)$", "which matches '/', an ordinary page"),
    ("nginx-settings", "admin-paths", "^/news", "which matches '/news', an ordinary page"),
    ("nginx-settings", "author-paths", "team", "which matches '/about/team/jane-doe', an ordinary page"),
    # Surge's own paths that would hide a page (the front page, a folder), or break the file they land in.
    ("settings", "panic-path", "/", "is not a URL path whose first segment starts with _ (no page's)"),
    ("settings", "health-path", "/news/health", "is not a URL path whose first segment starts with _"),
    ("instance-settings", "health-path", '/@@surge-health"', "is not an absolute URL path (letters, digits"),
    # A misspelt method, and one the site cannot do without.
    ("nginx-settings", "methods", "GET HEAD PSOT", "has 'PSOT', which is not one of GET, HEAD, POST"),
    ("nginx-settings", "methods", "GET HEAD PSOT", "; did you mean POST?"),
    ("nginx-settings", "methods", "GET HEAD PUT", "lacks POST: the site cannot work without GET and HEAD and POST"),
]

# Values at or above a floor, zeros that are a choice (no grace, no slow start), and patterns and paths
# that keep to their rules.
GOOD_VALUES = [("varnish-settings", "grace-healthy", "0s"), ("haproxy-settings", "slowstart", "0s"),
              ("nginx-settings", "client-max-body-size", "1m"), ("varnish-settings", "memory", "1G"),
              # Patterns with escapes and counts; Surge's paths under /_.
              ("nginx-settings", "login-paths", "/(@@)?login$\n/@login(/|$)\n/[a-z]{2}/login$"),
              ("settings", "panic-path", "/_surge/busy"), ("nginx-settings", "methods", "GET HEAD POST PROPFIND")]


def type_of(section, key):
    from surge.buildout.schemas import SCHEMAS

    return type(SCHEMAS[section].keys[key].type).__name__


def first_of_each_type():
    seen, chosen = set(), []
    for row in BAD_VALUES:
        kind = type_of(row[0], row[1])
        if kind not in seen:
            seen.add(kind)
            chosen.append(row)
    return chosen


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One good build that every bad build of this module must leave as it was."""
    made = Case(tmp_path_factory.mktemp("settings"))
    made.build()
    return made


def production_fails(built, overrides, *says):
    """A production build of BUILT (its secret strong) with OVERRIDES fails saying SAYS and changes no file."""
    built.secrets(zope_admin_password=STRONG)
    fails_and_keeps_live_file(built, {"settings": {"mode": "production"}, **overrides}, *says)


@pytest.mark.parametrize("section, key, value, says", first_of_each_type(),
                         ids=[f"{type_of(s, k)}-{s}-{k}" for s, k, _, _ in first_of_each_type()])
def test_bad_value_of_each_type_fails_the_build_and_changes_no_file(built, section, key, value, says):
    fails_and_keeps_live_file(built, {section: {key: value}}, f"buildout.cfg: [{section}] {key} = {value!r} ", says)


@pytest.mark.parametrize("section, key, value, says", BAD_VALUES, ids=[f"{s}-{k}" for s, k, _, _ in BAD_VALUES])
def test_bad_value_is_refused_by_its_schema(section, key, value, says):
    from surge.buildout.schemas import SCHEMAS

    buildout = zc.buildout.buildout.Buildout(repo_path("buildout.cfg"), [])
    assert says in (SCHEMAS[section].keys[key].type.problem(value, buildout) or "")


@pytest.mark.parametrize("section, key, value", GOOD_VALUES, ids=[f"{s}-{k}-{v}" for s, k, v in GOOD_VALUES])
def test_a_good_value_is_accepted_by_its_schema(section, key, value):
    from surge.buildout.schemas import SCHEMAS

    buildout = zc.buildout.buildout.Buildout(repo_path("buildout.cfg"), [])
    assert SCHEMAS[section].keys[key].type.problem(value, buildout) is None


def test_empty_value_of_a_key_that_needs_one_is_refused(built):
    fails_and_keeps_live_file(built, {"haproxy-settings": {"maxconn": ""}},
                              "buildout.cfg: [haproxy-settings] maxconn is empty; it must be")


def test_misspelled_key_is_refused_with_the_nearest_known_one(built):
    fails_and_keeps_live_file(built, {"nginx-settings": {"client_max_body_size": "1m"}},
                              "buildout.cfg: [nginx-settings] client_max_body_size is not a setting of "
                              "[nginx-settings]; did you mean client-max-body-size?")


@pytest.mark.parametrize("section, key, says", [
    ("firewall", "alow", "nothing reads this key; did you mean allow?"),
    ("releases", "package", "nothing reads this key; did you mean packages?"),
    ("debian", "service", "nothing reads this key; did you mean services?"),
    ("apply", "action", "nothing reads this key; did you mean actions?"),
    ("firewall", "ssh-port", "nothing reads this key; [firewall] has allow"),
])
def test_a_key_nothing_reads_is_refused_with_the_nearest_known_one(built, section, key, says):
    fails_and_keeps_live_file(built, {section: {key: "22"}}, f"buildout.cfg: [{section}] {key}: {says}")


@pytest.mark.parametrize("section, key", [("checks", "strict"), ("secrets-file", "mode")])
def test_an_option_set_in_a_fragments_part_is_refused(built, section, key):
    """A top-level file that writes into a part a fragment defines: the part ignores it, or it is changed
    behind the fragment's back."""
    fails_and_keeps_live_file(built, {section: {key: "1"}},
                              f"buildout.cfg: [{section}] {key}: [{section}] is a part of ")


NICE = {"author-nice": "0", "member-nice": "5", "shared-nice": "10"}
CONTRADICTIONS = [
    ({"instance-settings": {**NICE, "author-nice": "10"}},
     "[instance-settings] author-nice = 10 is above buildout.cfg: [instance-settings] member-nice = 5: member "
     "work would get the cores before author work"),
    ({"instance-settings": {**NICE, "member-nice": "12"}},
     "[instance-settings] member-nice = 12 is above buildout.cfg: [instance-settings] shared-nice = 10"),
    ({"instance-settings": NICE, "supervisor-settings": {"background-nice": "5"}},
     "[instance-settings] shared-nice = 10 is above buildout.cfg: [supervisor-settings] background-nice = 5: "
     "background work would get the cores before shared work"),
    ({"instance-settings": {"memory-limit": "200"}, "relstorage-settings": {"cache-local-mb": "256"}},
     "[instance-settings] memory-limit = 200 (MB) is not above buildout.cfg: [relstorage-settings] "
     "cache-local-mb = 256 (MB)"),
    ({"instance-settings": {"count": "16", "threads": "2", "spare-threads": "3"},
      "patroni-settings": {"max-connections": "300"}},
     "[patroni-settings] max-connections = 300 is below what the instances open: 2 app servers x 16 instances x "
     "5 threads (threads + spare-threads) x 2 connections = 320"),
    ({"varnish-settings": {"grace-healthy": "7h", "grace-sick": "6h"}},
     "[varnish-settings] grace-healthy = 7h is longer than buildout.cfg: [varnish-settings] grace-sick = 6h"),
    ({"nginx-settings": {"upstream-read-timeout": "1m"}, "varnish-settings": {"first-byte-timeout": "75s"}},
     "[nginx-settings] upstream-read-timeout = 1m is not longer than buildout.cfg: [varnish-settings] "
     "first-byte-timeout = 75s"),
    ({"instance-settings": {"drain-seconds": "30"}, "haproxy-settings": {"server-timeout": "40s"}},
     "[instance-settings] drain-seconds = 30 is shorter than buildout.cfg: [haproxy-settings] server-timeout = "
     "40s: a rolling restart would kill requests HAProxy still waits for"),
]


@pytest.mark.parametrize("settings, says", CONTRADICTIONS, ids=[says.split("]")[0][1:] + "-" + says.split()[1]
                                                                 for _, says in CONTRADICTIONS])
def test_settings_that_contradict_each_other_are_refused_with_their_numbers(built, settings, says):
    fails_and_keeps_live_file(built, settings, f"buildout.cfg: {says}")


def test_settings_that_agree_build(case):
    case.build({"instance-settings": {**NICE, "memory-limit": "1200", "count": "16", "threads": "2",
                                      "spare-threads": "3", "drain-seconds": "45"},
                "relstorage-settings": {"cache-local-mb": "128"}, "patroni-settings": {"max-connections": "320"},
                "varnish-settings": {"grace-healthy": "10s", "grace-sick": "6h", "first-byte-timeout": "75s"},
                "nginx-settings": {"upstream-read-timeout": "90s"}, "haproxy-settings": {"server-timeout": "40s"},
                "supervisor-settings": {"background-nice": "10"}})


@pytest.mark.parametrize("overrides, says", [
    ({"users": {"memcached": "nobody"}, "demo": {"cache-user": "${users:memcached}"}},
     "buildout.cfg: [users] zope = 'nobody' is also buildout.cfg: [users] memcached: the zope user must be its own"),
    ({"users": {"postgres": "nobody"}, "demo": {"data-user": "${users:postgres}"}},
     "buildout.cfg: [users] postgres = 'nobody' is also buildout.cfg: [users] zope: the postgres user must be"),
    ({"haproxy-settings": {"group": "root"}},
     "buildout.cfg: [haproxy-settings] group = 'root' is root's group"),
])
def test_in_production_an_identity_that_gives_the_server_away_is_refused(built, overrides, says):
    production_fails(built, overrides, says)


@pytest.mark.parametrize("key, value, whose", [
    ("site-role", "postgres", "the superuser role"),
    ("site-role", "logs", "the logs' role"),
    ("site-database", "template1", "PostgreSQL's own database"),
    ("site-database", "logs", "the logs' database"),
])
def test_the_sites_role_and_database_are_its_own(built, key, value, whose):
    fails_and_keeps_live_file(built, {"settings": {key: value}},
                              f"buildout.cfg: [settings] {key} = {value!r} is {whose}")


def test_settings_section_without_a_schema_is_refused(built):
    fails_and_keeps_live_file(built, {"redis-settings": {"memory": "1G"}}, "[redis-settings] has no schema")


def test_every_problem_is_reported_at_once(built):
    output = fails_and_keeps_live_file(
        built, {"varnish-settings": {"memory": "lots"}, "haproxy-settings": {"slowstart": "10"}},
        "2 problems in the configuration", "[varnish-settings] memory = 'lots'", "[haproxy-settings] slowstart = '10'")
    assert output


def test_a_good_value_of_a_fragment_not_built_is_accepted(case):
    case.build({"varnish-settings": {"memory": "2G"}, "demo": {"greeting": "typed"}})
    assert 'GREETING = "typed"' in case.snapshot()[0]


# Every interface however it is written: the daemons parse the address, so the check does too.
@pytest.mark.parametrize("host", ["0.0.0.0", "0.0", "0", "*", "[::]", "[::0]", "[0:0:0::0]"])
def test_a_private_service_on_every_interface_is_refused(built, host):
    fails_and_keeps_live_file(built, {"listen": {"demo": f"{host}:${{ports:demo}}"}},
                              f"buildout.cfg: [listen] demo = '{host}:", "binds every interface",
                              "[settings] wildcard-binds")


def test_in_production_an_address_this_machine_does_not_have_is_refused(built):
    # 192.0.2.1 is TEST-NET-1: no machine has it.
    production_fails(built, {"listen": {"demo": "192.0.2.1:${ports:demo}"}},
                     "buildout.cfg: [listen] demo = '192.0.2.1:", "is no address of this machine")


@pytest.mark.parametrize("key, value", [
    ("zmi-allow", "0.0.0.0/0"),
    ("zmi-allow", "0.0.0.0/1 128.0.0.0/1"),
    ("zmi-allow", "10.0.0.0/8 8.8.8.0/24"),
    ("limit-exempt", "::/0"),
    ("limit-exempt", "2000::/3"),
])
def test_in_production_admin_and_exempt_networks_reaching_the_internet_are_refused(built, key, value):
    production_fails(built, {"nginx-settings": {key: value}}, f"buildout.cfg: [nginx-settings] {key} = {value!r} has ",
                     "which is not loopback or a private range")


def test_in_production_private_admin_and_exempt_networks_are_accepted(case):
    case.secrets(zope_admin_password=STRONG)
    case.build({"settings": {"mode": "production"},
                "nginx-settings": {"zmi-allow": "10.0.0.0/8 192.168.1.0/24 fd00::/8 127.0.0.1",
                                   "limit-exempt": "172.16.0.0/12 ::1"}})


def test_a_wildcard_named_on_purpose_is_accepted(case):
    port = free_port()
    case.build({"ports": {"demo": str(port)}, "listen": {"demo": "0.0.0.0:${ports:demo}"},
                "settings": {"wildcard-binds": "demo"}})
    assert 'LISTEN = "0.0.0.0:' in case.snapshot()[0]


@pytest.mark.parametrize("overrides, says", [
    ({"topology": {"app-sources": "${topology:app-servers} web-1"}}, "names web-1, which is the web server web-1"),
    ({"hosts": {"web-2": "127.0.0.7", "spare": "127.0.0.7"}, "topology": {"app-sources": "app-master spare"}},
     "names spare, the address of the web server web-2"),
])
def test_in_production_a_web_server_among_the_app_tiers_sources_is_refused(built, overrides, says):
    production_fails(built, overrides, "buildout.cfg: [topology] app-sources = ", says,
                     "the app tier's private services would be open to the public-facing machine")


def test_a_misspelt_release_package_names_the_releases_list(built):
    production_fails(built, {"releases": {"packages": "surge.polcy"}},
                     "buildout.cfg: [releases] packages names 'surge.polcy', which no pin of [versions] names")


def test_root_as_a_service_user_is_refused_in_production(built):
    production_fails(built, {"users": {"zope": "root"}}, "buildout.cfg: [users] zope = 'root' is root")


@pytest.mark.parametrize("name", [name for name in TOP_LEVEL_FILES if name.startswith("prod-")])
def test_every_key_of_a_production_file_refuses_junk(name):
    """Each settings key the production file sets refuses a value of no type at all."""
    from surge.buildout.schema import Regex
    from surge.buildout.schemas import SCHEMAS, is_settings_section

    buildout = zc.buildout.buildout.Buildout(repo_path(name), [])
    tried = 0
    for section in (section for section in buildout._raw if is_settings_section(section)):
        for key in buildout._raw[section]:
            kind = SCHEMAS[section].keys[key].type
            junk = "(" if isinstance(kind, Regex) else "bad value!"
            assert kind.problem(junk, buildout), f"[{section}] {key} accepts {junk!r}"
            tried += 1
    assert tried > 40
