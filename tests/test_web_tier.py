"""``bin/cluster`` builds all four production files unchanged with the loopback overlay and ``bin/cluster check``
passes (and fails on a broken file); bad web settings fail and keep the live files; then web-1's real nginx
and Varnish under its supervisord, in front of a stand-in backend: HTTP redirects, HSTS, TLS 1.2 and 1.3 but
not 1.1, HTTP/2, the virtual host, miss then hit, members and authors passed with their class, forged class
headers replaced, cookies stripped, PURGE and BAN only from app servers, the management interface only from
allowed addresses, gzip, the status page, the panic page, and with the backend gone: stale pages in grace, the
panic page for the rest, recovery without a restart.
"""

import collections
import concurrent.futures
import gzip
import http.client
import os
import re
import socket
import ssl
import subprocess
import time
import uuid

import pytest

from conftest import (
    all_running,
    bad_setting_fails_and_keeps_live_files,
    port_open,
    program_states,
    repo_path,
    run,
    wait_until,
)
from running import (
    APP_MASTER,
    APP_SLAVE,
    FORM,
    HAPROXY,
    HTTP,
    HTTPS,
    OUTSIDER,
    VARNISH,
    VHM,
    WEB_1,
    WEB_2,
    exchange,
    nginx_limit,
)
from standin import StandIn
from surge.buildout import across
from surge.buildout.recipes import nginx
from surge.cluster import running as cluster_running

# nginx's status port (production's base.cfg, which the overlay keeps).
STATUS = 8090
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend():
    standin = StandIn(APP_MASTER, HAPROXY).start()
    yield standin
    standin.stop()


@pytest.fixture(scope="module")
def web_1(cluster, backend):
    root, _ = cluster
    directory = os.path.join(root, "web-1")
    try:
        cluster_running.start(root, "web-1")
        wait_until(lambda: https("GET", "/_surge/busy", root)[0] == 503, 60, "nginx answers")
        wait_until(lambda: varnish_sees_backend(directory, "healthy"), 60, "Varnish sees the backend healthy")
        wait_until(lambda: all_running(directory), 60, "supervisord counts every program as started")
        yield root
    finally:
        cluster_running.down(root, ("web-1",))
        wait_until(lambda: not port_open(WEB_1, HTTPS), 30, "web-1's nginx is gone")


def tls_context(root, **versions):
    context = ssl.create_default_context(cafile=os.path.join(root, "tls", "ca.crt"))
    for name, value in versions.items():
        setattr(context, name, value)
    return context


def https(method, path, root, headers=None, source=None, context=None, body=None):
    """A request to web-1's nginx over TLS, trusting the cluster's CA."""
    connection = http.client.HTTPSConnection(WEB_1, HTTPS, context=context or tls_context(root), timeout=30,
                                             source_address=(source, 0) if source else None)
    return exchange(connection, method, path, headers, body)


def plain(method, host, port, path, headers=None, source=None):
    connection = http.client.HTTPConnection(host, port, timeout=30, source_address=(source, 0) if source else None)
    return exchange(connection, method, path, headers)


def test_varnish_retries_a_miss_from_the_next_app_servers_haproxy(cluster):
    # The first attempt goes to the first healthy HAProxy in [topology] app-servers' order, the retry to the
    # first healthy one from the second on: a request that failed on one app server is retried on another.
    root, _ = cluster
    servers = across.load(os.path.join(root, "web-1", "cluster.cfg"))["topology"]["app-servers"].split()
    vcl = open(os.path.join(root, "web-1", "etc", "varnish.vcl")).read()
    names = [f"haproxy_{name.replace('-', '_')}" for name in servers]
    assert len(names) > 1
    assert re.findall(r"^\s*haproxies\.add_backend\((\w+)\);", vcl, re.M) == names
    assert re.findall(r"^\s*retry_haproxies\.add_backend\((\w+)\);", vcl, re.M) == names[1:] + names[:1]


def varnish_sees_backend(directory, state):
    """Varnish's probe of app-master's HAProxy (the stand-in; app-slave's is always sick here) says STATE."""
    listing = subprocess.run(
        ["varnishadm", "-n", os.path.join(directory, "var", "varnish"), "backend.list"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    ).stdout
    return any("haproxy_app_master" in line and state in line for line in listing.splitlines())


def new_path(prefix="page"):
    return f"/{prefix}-{uuid.uuid4().hex[:8]}"


# Building and checking


def test_every_server_builds_from_its_unchanged_production_file(cluster):
    _, built = cluster
    for name in ("web-1", "web-2", "app-master", "app-slave"):
        assert f"cluster: {name}: built in" in built


def test_cluster_check_passes_every_rendered_file(cluster):
    root, _ = cluster
    output = run([repo_path("bin", "cluster"), "check", "--root", root]).stdout
    for server in ("web-1", "web-2"):
        for name, checker in (("etc/nginx.conf", "nginx"), ("etc/varnish.vcl", "varnishd"),
                              ("etc/supervisord.conf", "supervisor")):
            assert any(line.split()[:3] == [server, name, "ok"] and checker in line
                       for line in output.splitlines()), f"{server} {name} was not checked by {checker}"


def test_cluster_check_fails_on_a_broken_live_file(cluster):
    root, _ = cluster
    vcl = os.path.join(root, "web-2", "etc", "varnish.vcl")
    original = open(vcl).read()
    try:
        with open(vcl, "w") as stream:
            stream.write("vcl 4.1;\nbackend {\n")
        result = run([repo_path("bin", "cluster"), "check", "web-2", "--root", root], check=False)
    finally:
        with open(vcl, "w") as stream:
            stream.write(original)
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and failed[0].split()[:2] == ["web-2", "etc/varnish.vcl"]


@pytest.mark.parametrize("setting, message", [
    ("nginx-settings:certificate=", "[nginx-settings] certificate is empty"),
    ("nginx-settings:key=/nonexistent/site.key",
     "[nginx-settings] key = '/nonexistent/site.key' is not a file on this machine"),
    ("nginx-settings:zmi-allow=10.0.0.300", "has '10.0.0.300', which is not an address or network"),
    ("varnish-settings:grace-sick=six hours", "[varnish-settings] grace-sick = 'six hours' is not a duration"),
    ("settings:secrets-file=/nonexistent/secrets.cfg", "/nonexistent/secrets.cfg does not exist"),
    ("rsyslog-settings:queue-disk-space=lots", "[rsyslog-settings] queue-disk-space = 'lots' is not a size"),
    ("nginx-settings:login-paths=/login$|", "which matches '/', an ordinary page: it would take in the whole site"),
    ("settings:panic-path=/", "[settings] panic-path = '/' is not a URL path whose first segment starts with _"),
    # This server is no server of the topology: every other server's file would describe another one.
    ("hosts:server=127.0.0.99", "the command line: [hosts] server = '127.0.0.99' must be the address of exactly one "
     "server of buildout.d/base.cfg: [topology] servers (web-1 web-2 app-master app-slave); it is that of none"),
])
def test_bad_web_setting_fails_and_keeps_the_live_files(cluster, setting, message):
    root, _ = cluster
    bad_setting_fails_and_keeps_live_files(os.path.join(root, "web-2"), setting, message,
                                           ("nginx.conf", "varnish.vcl", "rsyslog.conf"))


def test_a_purger_that_does_not_resolve_fails_the_build_and_keeps_the_live_files(cluster):
    # Varnish's access list holds addresses: a purger's name is resolved at build time, not left to Varnish.
    root, _ = cluster
    bad_setting_fails_and_keeps_live_files(os.path.join(root, "web-2"), "hosts:nowhere=nowhere.invalid",
                                           "[varnish-config] purgers: [hosts] nowhere ('nowhere.invalid') does not "
                                           "resolve to an address here", ("varnish.vcl",),
                                           "varnish-config:purgers=app-master nowhere")


def test_ocsp_stapling_is_on_only_when_the_certificate_names_a_responder_and_a_resolver_is_set(cluster, tmp_path):
    root, _ = cluster
    directory = os.path.join(root, "web-2")
    config = os.path.join(directory, "etc", "nginx.conf")
    certificate, key = str(tmp_path / "site.crt"), str(tmp_path / "site.key")
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "2",
         "-subj", f"/CN={WEB_2}", "-addext", "authorityInfoAccess=OCSP;URI:http://ocsp.example.invalid"], cwd="/")
    buildout = [os.path.join(directory, "bin", "buildout"), "-N", "-c", "cluster.cfg"]
    responder = [f"nginx-settings:certificate={certificate}", f"nginx-settings:key={key}"]
    try:
        for settings, stapling in ((responder, "off"), (responder + ["nginx-settings:resolver=127.0.0.1"], "on")):
            run(buildout + settings, cwd=directory)
            assert f"ssl_stapling {stapling};" in open(config).read(), settings
    finally:
        run(buildout, cwd=directory)
    assert "ssl_stapling off;" in open(config).read(), "the cluster's own certificate names no responder"
    # The redirect's URL leaves out HTTPS's own port.
    assert (nginx.https_url("www.example.org", "443"), nginx.https_url("www.example.org", "8443")) == (
        "https://www.example.org", "https://www.example.org:8443")


def test_plain_http_on_the_https_port_and_tls_on_the_http_port_are_refused(cluster):
    root, _ = cluster
    output = bad_setting_fails_and_keeps_live_files(os.path.join(root, "web-2"), "ports:nginx-http=443",
                                                    "is the port of HTTPS: browsers would speak HTTPS to it",
                                                    ("nginx.conf",), "ports:nginx-https=80")
    assert "is the port of plain HTTP: browsers would speak plain HTTP to it" in output


# Running: nginx and Varnish of web-1 under its supervisord


def test_supervisorctl_shows_every_program_running(web_1):
    assert program_states(os.path.join(web_1, "web-1")) == [
        ["etcd", "RUNNING"], ["munin-node", "RUNNING"], ["nginx", "RUNNING"], ["rsyslog", "RUNNING"],
        ["varnish", "RUNNING"], ["varnish-hits", "RUNNING"], ["varnishncsa", "RUNNING"]]


def test_plain_http_only_redirects_to_https(web_1):
    status, headers, _ = plain("GET", WEB_1, HTTP, "/news?page=2")
    assert status == 301 and headers["Location"] == f"https://{WEB_1}:{HTTPS}/news?page=2"


def test_hsts_is_sent(web_1):
    _, headers, _ = https("GET", new_path(), web_1)
    assert headers["Strict-Transport-Security"] == "max-age=63072000"


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_tls_1_2_and_1_3_are_accepted(web_1, version):
    tls_version = getattr(ssl.TLSVersion, version)
    context = tls_context(web_1, minimum_version=tls_version, maximum_version=tls_version)
    assert https("GET", new_path(), web_1, context=context)[0] == 200


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_tls_1_1_is_refused(web_1, version):
    tls_version = getattr(ssl.TLSVersion, version)
    context = tls_context(web_1, minimum_version=tls_version, maximum_version=tls_version)
    context.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError) as refused:
        https("GET", "/", web_1, context=context)
    # The server's alert, not the client's own refusal to offer the version.
    assert refused.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION", refused.value


def test_http2_is_offered(web_1):
    context = tls_context(web_1)
    context.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection((WEB_1, HTTPS)) as raw, context.wrap_socket(raw, server_hostname=WEB_1) as tls:
        assert tls.selected_alpn_protocol() == "h2"


def test_request_reaches_zope_through_the_virtual_host(web_1):
    _, headers, _ = https("GET", "/news/item?x=1", web_1)
    assert headers["X-Backend-Path"] == f"{VHM}/news/item?x=1"


# Zope's virtual host monster reads these anywhere in the path; encoded, nginx decodes them before it matches.
@pytest.mark.parametrize("path", ["/VirtualHostBase/http/evil.example:80/Plone/VirtualHostRoot/",
                                  "/news/VirtualHostRoot/_vh_evil/", "/_vh_evil/news", "/news/_vh_x/item",
                                  "/%56irtualHostBase/http/evil.example:80/", "/%5Fvh%5Fevil/news"])
def test_client_cannot_choose_the_virtual_host(web_1, path):
    assert https("GET", path, web_1, source=OUTSIDER)[0] == 404
    # The positive control: a path that only looks alike reaches Zope.
    assert https("GET", "/news/vh_notes/virtual-hosts", web_1, source=OUTSIDER)[0] == 200


def test_anonymous_page_is_a_miss_then_a_hit(web_1):
    path = new_path()
    first = https("GET", path, web_1)[1]
    second = https("GET", path, web_1)[1]
    assert (first["X-Cache"], second["X-Cache"]) == ("MISS", "HIT")
    assert first["X-Backend-Count"] == second["X-Backend-Count"]
    assert first["X-Backend-Class"] == "anonymous"


# PAS reads Plone's login fields (and its cookie, __ac) from the form of any request: in a query they would
# make a page the user's, not an anonymous visitor's, and land in every log on the way. Refused from everywhere.
@pytest.mark.parametrize("query", ["__ac_name=someone&__ac_password=guess", "x=1&__ac_password=guess",
                                   "%5F%5Fac_name=someone&%5f%5fac_password=guess", "__AC_NAME=someone",
                                   "%5f_%61%63_password=guess", "__ac=forged-cookie", "__ac_password:string=guess"])
def test_login_fields_in_the_query_are_refused(web_1, query):
    path = f"{new_path()}?{query}"
    for source in (None, OUTSIDER):  # an admin address, then an outsider
        assert https("GET", path, web_1, source=source)[0] == 403
    # The control: a page with another query (even one naming __ac in a value) is served, and cached.
    plain = f"{new_path()}?x=1&q=__ac_password"
    assert https("GET", plain, web_1, source=OUTSIDER)[0] == 200
    assert [https("GET", plain, web_1)[1]["X-Cache"] for _ in range(2)] == ["HIT", "HIT"]


def test_login_cookie_is_never_cached_and_reaches_the_backend_as_member(web_1):
    path = new_path()
    answers = [https("GET", path, web_1, {"Cookie": "__ac=someone"})[1] for _ in range(2)]
    assert [a["X-Cache"] for a in answers] == ["PASS", "PASS"]
    assert [a["X-Backend-Class"] for a in answers] == ["member", "member"]
    assert answers[0]["X-Backend-Count"] != answers[1]["X-Backend-Count"]


def test_a_login_post_reaches_the_backend_as_member_and_the_login_form_stays_anonymous(web_1):
    # A login storm's logins run in the members' pool, not behind the anonymous queue, and ahead of the
    # members' pages there (X-Surge-Login); nothing else carries X-Surge-Login, whatever the client sends.
    login = https("POST", "/login", web_1, FORM, body="__ac_name=x")[1]
    assert (login["X-Backend-Class"], login["X-Backend-Login"]) == ("member", "1")
    forged = {"X-Surge-Login": "1"}
    for method, path, headers, klass in (("GET", "/login", forged, "anonymous"),
                                         ("POST", new_path(), {**FORM, **forged}, "anonymous"),
                                         ("POST", "/login", {**FORM, **forged, "Cookie": "__ac=someone"}, "member"),
                                         ("GET", new_path(), {"x-surge-login": "1", "Cookie": "__ac=a"}, "member")):
        answer = https(method, path, web_1, headers, body="a=b" if method == "POST" else None)[1]
        assert (answer["X-Backend-Class"], answer["X-Backend-Login"]) == (klass, ""), (method, path, headers)


@pytest.mark.parametrize("suffix", ["/edit", "/@@edit", "/++add++Document", "/folder_contents", "/manage_main",
                                    "/@@site-controlpanel"])
def test_author_path_gets_the_author_class(web_1, suffix):
    _, headers, _ = https("GET", new_path("folder") + suffix, web_1, {"Cookie": "__ac=editor"})
    assert headers["X-Backend-Class"] == "author"


def test_author_path_without_login_stays_anonymous(web_1):
    _, headers, _ = https("GET", new_path() + "/edit", web_1)
    assert headers["X-Backend-Class"] == "anonymous"


@pytest.mark.parametrize("name", ["X-Surge-Class", "x-surge-class"])
def test_forged_class_header_is_replaced(web_1, name):
    _, headers, _ = https("GET", new_path(), web_1, {name: "author"})
    assert headers["X-Backend-Class"] == "anonymous"


def test_cookies_that_do_not_matter_are_stripped_before_caching(web_1):
    path = new_path()
    https("GET", path, web_1, {"Cookie": "_ga=GA1.2.3; theme=dark"})
    assert https("GET", path, web_1, {"Cookie": "_ga=other"})[1]["X-Cache"] == "HIT"


@pytest.mark.parametrize("cookie", ["surge_session=abc", "statusmessages=xyz"])
def test_session_and_status_message_cookies_make_a_page_personal(web_1, cookie):
    path = new_path()
    https("GET", path, web_1)
    assert https("GET", path, web_1, {"Cookie": cookie})[1]["X-Cache"] == "PASS"


@pytest.mark.parametrize("method", ["PURGE", "BAN"])
@pytest.mark.parametrize("source", [WEB_2, OUTSIDER, WEB_1])
def test_purge_and_ban_from_a_non_app_address_are_refused(web_1, method, source):
    path = new_path("kept")
    https("GET", path, web_1)
    assert plain(method, WEB_1, VARNISH, VHM + path, source=source)[0] == 403
    assert https("GET", path, web_1)[1]["X-Cache"] == "HIT", "the page is still cached"


def test_purge_from_an_app_server_works(web_1):
    path = new_path()
    https("GET", path, web_1)
    assert https("GET", path, web_1)[1]["X-Cache"] == "HIT"
    assert plain("PURGE", WEB_1, VARNISH, VHM + path, source=APP_MASTER)[0] == 200
    assert https("GET", path, web_1)[1]["X-Cache"] == "MISS"


def test_ban_from_an_app_server_works(web_1):
    path = new_path("banned")
    https("GET", path, web_1)
    assert plain("BAN", WEB_1, VARNISH, VHM + "/banned-", source=APP_SLAVE)[0] == 200
    assert https("GET", path, web_1)[1]["X-Cache"] == "MISS"


# nginx decodes the path before it matches (%6D is "m") and merges slashes; Zope serves the management
# screens of any object, not only the root's.
@pytest.mark.parametrize("path", ["/manage_main", "/manage_main/", "/news/manage_main", "/%6Danage_main",
                                  "/news//manage_workspace", "/manage", "/news/item/manage_propertiesForm"])
def test_management_interface_only_from_allowed_addresses(web_1, path):
    assert https("GET", path, web_1, source=OUTSIDER)[0] == 403
    assert https("GET", path, web_1, source="127.0.0.1")[0] == 200


def test_pages_are_compressed(web_1):
    _, headers, body = https("GET", new_path(), web_1, {"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip" and b"answer" in gzip.decompress(body)


def test_status_endpoint_answers_on_loopback(web_1):
    status, _, body = plain("GET", WEB_1, STATUS, "/nginx_status")
    assert status == 200 and b"Active connections" in body


def test_panic_page_is_served_from_disk(web_1):
    status, headers, body = https("GET", "/_surge/busy", web_1)
    assert status == 503 and headers["Retry-After"] == "30"
    assert b"We are very busy right now" in body and b"surge" in body.lower()


# Last: the backend goes away and comes back.


def served_from_cache(path, root):
    """The Age of PATH's answer, which must be a cache hit."""
    status, headers, _ = https("GET", path, root)
    assert (status, headers["X-Cache"]) == (200, "HIT"), "a cached page is still served"
    return int(headers["Age"])


def test_backend_down_then_back(web_1, backend):
    directory = os.path.join(web_1, "web-1")
    stale = new_path("short")
    assert https("GET", stale, web_1)[1]["X-Cache"] == "MISS"
    backend.stop()
    try:
        wait_until(lambda: varnish_sees_backend(directory, "sick"), 60, "Varnish sees the backend sick")
        # A cached page is still served, also once its 1 s s-maxage has run out (Age 2), when only grace can.
        wait_until(lambda: served_from_cache(stale, web_1) >= 2, 30, "the stale page is served older than its TTL")
        status, headers, body = https("GET", new_path("uncached"), web_1)
        assert status == 503 and b"We are very busy right now" in body, "an uncached page gets the panic page"
    finally:
        backend.start()
    wait_until(lambda: varnish_sees_backend(directory, "healthy"), 60, "Varnish sees the backend healthy again")
    assert https("GET", new_path(), web_1)[0] == 200, "the site recovers without a restart"


# What the public listener refuses, and whom it limits



@pytest.mark.parametrize("method", ["PURGE", "BAN", "PROPFIND", "MKCOL", "LOCK"])
def test_cache_and_webdav_methods_are_refused_on_the_public_listener(web_1, method):
    assert https(method, new_path(), web_1)[0] == 405
    assert https(method, new_path(), web_1, source=OUTSIDER)[0] == 405


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_the_rest_apis_methods_reach_the_backend(web_1, method):
    status, headers, _ = https(method, new_path("uncached"), web_1, {"Content-Type": "application/json"},
                               source=OUTSIDER, body=b'{"title": "x"}')
    assert (status, headers["X-Backend-Method"], headers["X-Backend-Length"]) == (200, method, "14")


# Zope reads more converters after the method's (":method:string"), an image button's ".x", and decodes the key
# first ("%6Dethod").
@pytest.mark.parametrize("query", ["manage_main:method=1", "x%3Amethod=manage_main", "form.x:action=manage_delObjects",
                                   ":default_method=manage_main", "a=1&ids:list=x&manage_delObjects:METHOD=Delete",
                                   "manage_main:method:string=1", "manage_main:method.x=1", "manage_main:%6Dethod=1",
                                   "manage_main%3a%6d%65%74%68%6f%64=1", "x:default%5Fmethod=manage_main",
                                   "manage_main:method%3Alist=1"])
def test_a_query_that_names_a_method_is_for_admin_addresses_only(web_1, query):
    path = f"{new_path()}?{query}"
    assert https("GET", path, web_1, source=OUTSIDER)[0] == 403
    assert https("GET", path, web_1)[0] == 200


def test_the_instances_learn_whether_the_client_is_an_admin_address(web_1):
    # They refuse a method named in a form body from elsewhere (surge.policy.admin).
    forged = {"X-Surge-Admin": "1"}
    assert https("GET", new_path("uncached"), web_1, forged, source=OUTSIDER)[1]["X-Backend-Admin"] == "0"
    assert https("GET", new_path("uncached"), web_1)[1]["X-Backend-Admin"] == "1"


# The spellings Zope also answers: a trailing slash, a view without @@ or as ++view++, the REST API's administration
# and plone.exportimport's whole-site export and import. The instances refuse an administrator from outside
# whatever the path (tests/test_end_to_end.py); this is nginx's first, cheap filter.
@pytest.mark.parametrize("path", ["/@@site-controlpanel", "/@@overview-controlpanel", "/@@usergroup-userprefs",
                                  "/@controlpanels/mail", "/prefs_install_products_form", "/portal_setup",
                                  "/@@overview-controlpanel/", "/overview-controlpanel",
                                  "/++view++overview-controlpanel", "/usergroup-groupprefs/", "/@users",
                                  "/@users/admin", "/@groups", "/@registry/",
                                  "/@addons", "/@upgrade", "/@database", "/@types/Document", "/@controlpanels",
                                  "/@export", "/@import", "/@@dexterity-types", "/news/@@overview-controlpanel"])
def test_plones_administration_is_for_admin_addresses_only(web_1, path):
    member = {"Cookie": "__ac=manager"}
    assert https("GET", path, web_1, member, source=OUTSIDER)[0] == 403
    assert https("GET", path, web_1, member)[0] == 200


def test_an_ordinary_query_with_a_colon_passes(web_1):
    assert https("GET", f"{new_path()}?sort_on=modified&b_start:int=20", web_1, source=OUTSIDER)[0] == 200


def test_basic_credentials_are_for_admin_addresses_only(web_1):
    basic = {"Authorization": "Basic YWRtaW46c2VjcmV0"}
    assert https("GET", new_path(), web_1, basic, source=OUTSIDER)[0] == 403
    assert https("GET", new_path(), web_1, {"Authorization": "bAsIc YWRtaW46c2VjcmV0"}, source=OUTSIDER)[0] == 403
    assert https("GET", new_path(), web_1, basic)[0] == 200
    # The REST API's token (from @login) works from anywhere.
    assert https("GET", new_path(), web_1, {"Authorization": "Bearer abc.def.ghi"}, source=OUTSIDER)[0] == 200


def test_plones_cookie_is_exactly___ac(web_1):
    # nginx's $cookie___ac would take __AC, which Zope ignores: it would have made an anonymous visitor a member.
    assert https("GET", new_path(), web_1, {"Cookie": "__AC=x"})[1]["X-Backend-Class"] == "anonymous"
    assert https("GET", new_path(), web_1, {"Cookie": "x__ac=y"})[1]["X-Backend-Class"] == "anonymous"
    assert https("GET", new_path(), web_1, {"Cookie": "theme=dark; __ac=x"})[1]["X-Backend-Class"] == "member"


def test_security_headers_are_sent_on_pages_and_on_the_panic_page(web_1):
    for path in (new_path(), "/_surge/busy"):
        headers = https("GET", path, web_1, source=OUTSIDER)[1]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "default-src 'self'" in headers["Content-Security-Policy-Report-Only"]
        assert headers["Strict-Transport-Security"].startswith("max-age=")


def test_internal_headers_reach_admin_addresses_only(web_1):
    path = new_path()
    outside = https("GET", path, web_1, source=OUTSIDER)[1]
    assert not {"X-Cache", "X-Cache-Hits", "X-Varnish", "Via"} & set(outside.keys()), dict(outside)
    assert https("GET", path, web_1)[1]["X-Cache"] == "HIT"


def burst(root, path, count, source, headers=None, method="GET", body=None):
    """COUNT requests for PATH from SOURCE, 20 at a time: ({status: count}, one 429's headers, seconds taken)."""
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: https(method, path, root, headers, source=source, body=body),
                                range(count)))
    statuses = collections.Counter(status for status, _, _ in answers)
    limited = next((headers for status, headers, _ in answers if status == 429), None)
    return dict(statuses), limited, time.monotonic() - started


# Each login path in the forms a client can send it: the form's GET and POST, with @@, percent-encoded (nginx
# decodes before it matches), below the root, the REST API's @login with a suffix. (Basic credentials count
# too, from an admin address that is not exempt; the cluster has none: tests/test_end_to_end.py's addresses.)
LOGIN_FORMS = [("GET", "/login", None, None), ("POST", "/login", FORM, "__ac_name=x&__ac_password=y"),
               ("GET", "/@@login_form", None, None), ("GET", "/%6Cogin", None, None),
               ("POST", "/news/@login/", {"Content-Type": "application/json"}, '{"login": "x", "password": "y"}'),
               ("GET", "/failsafe_login", None, None),
               ("GET", "/acl_users/credentials_cookie_auth/require_login", None, None)]


@pytest.mark.parametrize("number", range(len(LOGIN_FORMS)))
def test_login_attempts_are_limited_per_address_with_429_and_retry_after(web_1, number):
    method, path, headers, body = LOGIN_FORMS[number]
    rate, burst_size = nginx_limit(web_1, "surge_login")
    source = f"127.0.2.{number + 1}"  # an address of its own: neither an admin address nor exempt
    sent = 2 * burst_size + 4
    statuses, limited, seconds = burst(web_1, path, sent, source, headers, method, body)
    passed = sent - statuses.get(429, 0)
    # The limit's bound over the time the burst took: the first attempt, the burst, then the rate.
    bound = 1 + burst_size + rate * seconds
    assert passed <= bound and sent > bound, (statuses, seconds)
    assert limited["Retry-After"] == "30"
    # Controls: another address and an exempt one are not limited.
    assert https(method, path, web_1, headers, source=f"127.0.3.{number + 1}", body=body)[0] != 429
    assert burst(web_1, path, sent, "127.0.0.1", headers, method, body)[0].get(429) is None


def test_members_requests_are_limited_per_address_and_cached_pages_are_not(web_1):
    member = {"Cookie": "__ac=someone"}
    rate, burst_size = nginx_limit(web_1, "surge_personal")
    statuses, limited, seconds = burst(web_1, new_path(), 200, "127.0.0.6", member)
    passed = 200 - statuses.get(429, 0)
    bound = 1 + burst_size + rate * seconds  # the first request, the burst, then the rate
    assert passed <= bound, (statuses, seconds)
    assert passed == 200 or limited["Retry-After"] == "30"  # all pass only if the burst was slower than the rate
    assert burst(web_1, new_path(), 200, "127.0.0.7")[0] == {200: 200}, "anonymous pages are not limited"
