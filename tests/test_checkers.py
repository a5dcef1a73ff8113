"""Each daemon's own checker, at build time on a built cluster server: a value
that passes its schema but not the daemon fails the build before any file of
the server changes (a harmless change to another file rides along and must
not go live either), and the error quotes the checker and, where the checker
names a line, the setting behind it; and every rendered nginx config is clean
under gixy, an independent nginx linter."""

import json
import os
import re

import pytest

from conftest import bad_setting_fails_and_keeps_live_files, repo_path, run


def bad_vcl(root):
    path = os.path.join(root, "bad-include.vcl")
    with open(path, "w") as stream:
        stream.write("sub vcl_recv {\n    set req.http.x = ;\n}\n")
    return path


# (server, checker, bad setting, harmless setting for another file, what the error says).
CHECKERS = [
    ("web-2", "nginx -t", "nginx-settings:client-max-body-size=99999999999g", "nginx-settings:retry-after=31",
     ['"client_max_body_size" directive invalid value',
      "it uses the command line: [nginx-settings] client-max-body-size = '99999999999g'"]),
    ("web-2", "varnishd -C", "varnish-settings:includes={vcl}", "nginx-settings:retry-after=31",
     ["VCL compilation failed", "bad-include.vcl"]),
    ("app-master", "haproxy -c", "haproxy-settings:group=nosuchgroup", "instance-settings:zodb-cache-size=40000",
     ["nosuchgroup", "it uses the command line: [haproxy-settings] group = 'nosuchgroup'"]),
    ("app-master", "rsyslogd -N1", "rsyslog:drop=zope-access trailing\\", "instance-settings:zodb-cache-size=40000",
     ["rsyslog.conf.j2 renders a file that fails its check", "rsyslogd"]),
    ("app-master", "postgres -C", "postgres-settings:work-mem=99999999GB", "instance-settings:zodb-cache-size=40000",
     ["postgresql.conf.j2 renders a file that fails its check", "work_mem"]),
    ("app-master", "pg_hba through PostgreSQL", 'postgres:access=surge "surge app-master',
     "instance-settings:zodb-cache-size=40000",
     ["pg_hba.conf.j2 renders a file that fails its check", "could not load pg_hba.conf",
      "comes from buildout.d/templates/pg_hba.conf.j2 line"]),
    ("app-master", "supervisord's parser", "memcached-program:stopsignal=NOPE",
     "instance-settings:zodb-cache-size=40000", ["supervisord.conf.j2 renders a file that fails its check", "NOPE"]),
    ("app-master", "Patroni's validator", "patroni-config:api-listen=nowhere.invalid:8008",
     "instance-settings:zodb-cache-size=40000",
     ["patroni.yml.j2 renders a file that fails its check", "restapi.listen nowhere.invalid:8008 didn't pass"]),
    # A part's option the schema does not type: the quote ends the template's Perl string.
    ("app-master", "perl -c", "munin-node-launcher:confdir=/srv/it's", "instance-settings:zodb-cache-size=40000",
     ["munin-node.pl.j2 renders a file that fails its check", "perl -c",
      "it uses the command line: [munin-node-launcher] confdir"]),
]


@pytest.mark.parametrize("server, checker, bad, harmless, says", CHECKERS,
                         ids=[f"{server}-{checker}" for server, checker, *_ in CHECKERS])
def test_a_file_its_daemon_refuses_fails_the_build_and_changes_no_file(cluster, server, checker, bad, harmless,
                                                                        says):
    root, _ = cluster
    bad = bad.format(vcl=bad_vcl(root))
    output = bad_setting_fails_and_keeps_live_files(os.path.join(root, server), bad, says[0], (), harmless)
    for text in says[1:]:
        assert text in output


def test_a_pages_policy_that_would_end_nginxs_value_fails_before_nginx_sees_it(cluster):
    """The logs report's Content Security Policy lands between nginx's double quotes, as the site's does."""
    root, _ = cluster
    bad_setting_fails_and_keeps_live_files(
        os.path.join(root, "app-master"), "logs-http-config:content-security-policy=default-src \u2018none\u2019",
        "[logs-http-config] content-security-policy = 'default-src \u2018none\u2019' is not a Content Security Policy")


# gixy's proxy_pass_normalized flags every path after the host; with $request_uri in the value nginx sends the
# client's bytes as they came, undecoded, which is what that plugin asks for (docs/security.rst).
def accepted(finding):
    return finding["plugin"] == "proxy_pass_normalized" and re.search(r"proxy_pass \S+\$request_uri;",
                                                                        finding["config"])


@pytest.mark.parametrize("config", ["web-1/etc/nginx.conf", "web-2/etc/nginx.conf",
                                    "app-master/etc/nginx-logs.conf", "app-master/etc/nginx-munin.conf"])
def test_every_nginx_config_is_clean_under_an_independent_linter(cluster, config):
    """gixy (an nginx analyser of its own) finds no response splitting, host spoofing, origin or alias hole."""
    root, _ = cluster
    path = os.path.join(root, config)
    assert os.path.isfile(path), path
    report = run([repo_path("bin", "gixy"), "-f", "json", path], check=False)
    findings = json.loads(report.stdout)
    assert [finding for finding in findings if not accepted(finding)] == []
