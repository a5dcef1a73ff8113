"""Recipe surge.buildout:nginx: nginx.conf, with what nginx.conf.j2 must not decide.

A surge.buildout:template (``settings = nginx-settings``) whose options also
include:

listen-https, listen-http, listen-status
    What nginx binds: this server's [listen] entries.
varnish
    Varnish on this server ([listen] varnish), where requests go.
public-host, public-port
    How browsers reach the site: the virtual host rewrite and the HTTP
    redirect use them.
dhparam
    RFC 7919's ffdhe2048 group for the DHE ciphers, kept in the repository.
user, site-id, panic-page, syslog, var
    nginx's worker user, the Plone site, the panic page, the syslog socket
    and the runtime folder.
admin-pages
    One line per folder of static pages for the admin addresses only,
    ``NAME HOST:PORT``: shown under /_surge/NAME/ from that private nginx
    (Munin's graphs, the logs report).

Derived for the template: ``ocsp_stapling`` (``on`` when the certificate
names an OCSP responder and a resolver is set, else ``off``), after refusing
a plain listener on HTTPS's port (443) or a TLS one on HTTP's (80), ``zmi_allow``
and ``limit_exempt`` (validated networks), ``author_pattern`` and
``login_pattern`` and ``admin_pattern`` (one alternation each; no
``admin_pattern`` when ``admin-paths`` is empty), ``https_url`` (no :443 when it is
443), ``resolvers``, ``methods`` (one alternation; PURGE and BAN refused),
``csp_header`` (enforced or report-only), ``method_query_pattern`` (a
query key naming a method, however spelt), ``internal_headers`` (the
headers HAProxy and Varnish add, for the admin addresses only) and
``admin_pages`` ((NAME, HOST:PORT) pairs).
"""

import ipaddress
import os
import re
import subprocess

from surge.buildout.errors import ConfigError, fail, where
from surge.buildout.network import split_bind
from surge.buildout.rendering import Template
from surge.buildout.schema import (
    CSP_POLICY,
    EXISTING_FILE,
    NGINX,
    NGINX_RATE,
    NGINX_SIZE,
    NGINX_TIME,
    Boolean,
    Choice,
    Choices,
    Hosts,
    Integer,
    Networks,
    Path,
    Regex,
    Schema,
    Setting,
    Text,
)

# HTTP's methods and WebDAV's (Zope serves both); PURGE and BAN are Varnish's, refused below with a reason.
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "PROPPATCH", "MKCOL",
                "COPY", "MOVE", "LOCK", "UNLOCK", "PURGE", "BAN")

SETTINGS = Schema("nginx-settings", {
    "binary": Setting(NGINX),
    "mime-types": Setting(EXISTING_FILE),
    "certificate": Setting(EXISTING_FILE),
    "key": Setting(EXISTING_FILE),
    "resolver": Setting(Hosts(), empty=True),
    "zmi-allow": Setting(Networks(private=True)),
    "author-paths": Setting(Regex(paths=True)),
    "admin-paths": Setting(Regex(paths=True), empty=True),
    "worker-processes": Setting(Text(r"auto|[1-9][0-9]{0,3}", "auto or a number of processes")),
    "worker-connections": Setting(Integer(64, 1000000)),
    "worker-rlimit-nofile": Setting(Integer(1024, 1048576)),
    # nginx reads 0 as no limit at all.
    "client-max-body-size": Setting(NGINX_SIZE.at_least("1m", "less refuses an ordinary upload, and 0 means "
                                                              "no limit at all")),
    **{key: Setting(NGINX_TIME.at_least("1s", "a shorter wait fails clients and backends that are only busy, "
                                              "and 0 closes every kept-alive connection at once"))
       for key in ("client-timeout", "keepalive-timeout", "upstream-connect-timeout", "upstream-read-timeout")},
    "upstream-keepalive": Setting(Integer(1, 100000)),
    "hsts-max-age": Setting(Integer(0, unit="seconds")),
    "retry-after": Setting(Integer(1, 86400, unit="seconds")),
    "static-root": Setting(Path()),
    "methods": Setting(Choices(HTTP_METHODS, required=("GET", "HEAD", "POST"))),
    "referrer-policy": Setting(Choice((
        "no-referrer", "no-referrer-when-downgrade", "origin", "origin-when-cross-origin", "same-origin",
        "strict-origin", "strict-origin-when-cross-origin", "unsafe-url"))),
    "content-security-policy": Setting(CSP_POLICY, empty=True),
    "csp-report-only": Setting(Boolean()),
    "login-paths": Setting(Regex(paths=True)),
    "login-rate": Setting(NGINX_RATE),
    "login-burst": Setting(Integer(0, 100000, unit="requests")),
    "personal-rate": Setting(NGINX_RATE),
    "personal-burst": Setting(Integer(0, 100000, unit="requests")),
    "connections-per-address": Setting(Integer(1, 1000000)),
    "limit-exempt": Setting(Networks(private=True), empty=True),
})

# Headers HAProxy and Varnish add for the operators; other clients never see them.
INTERNAL_HEADERS = ("X-Surge-Pool", "X-Surge-Instance", "X-Varnish", "X-Cache", "X-Cache-Hits", "Via")
# Methods that change Varnish's cache: the app servers send them to Varnish's own port.
CACHE_METHODS = ("PURGE", "BAN")
# A folder name under /_surge/ (not "busy": the panic page's).
ADMIN_PAGE_NAME = re.compile(r"^(?!busy$)[a-z][a-z0-9-]*$")


def any_encoding(text):
    """A regex (for nginx's case-blind ~*) matching TEXT with any of its characters percent-encoded: $args is
    the query as the client sent it, and Zope decodes it before it reads the converters."""
    return "".join(f"({re.escape(char)}|%{ord(char):02x})" for char in text)


# Zope's publisher calls the method a query key names after a colon: NAME:method, :default_method,
# NAME:action... followed by more converters (":method:string"), an image button's ".x", or the value.
METHOD_QUERY_PATTERN = ("(^|&)[^&=]*(:|%3a)(" + "|".join(any_encoding(name) for name in (
    "default_method", "default_action", "method", "action")) + ")([:.=&%]|$)")

# Plone's login fields (__ac_name, __ac_password) and its cookie as a field (__ac), which PAS reads from the
# form of any request: in a query they are refused, since a URL lands in every log on the way.
LOGIN_QUERY_PATTERN = "(^|&)" + any_encoding("__ac")


class Nginx(Template):
    schema = SETTINGS

    def derive(self):
        settings = self.settings
        problems = []
        if not os.access(settings["key"], os.R_OK):
            problems.append(f"{where(self.buildout, self.settings_section, 'key')} = {settings['key']}: cannot be "
                            "read by the build user")
        methods = settings["methods"].split()
        problems += [f"{where(self.buildout, self.settings_section, 'methods')} = {settings['methods']!r}: "
                     f"{method} changes Varnish's cache and is never taken from the public"
                     for method in methods if method in CACHE_METHODS]
        problems += swapped_schemes(self.buildout, self.name, self.options)
        admin_pages = [line.split() for line in self.options["admin-pages"].splitlines() if line.strip()]
        problems += [f"{where(self.buildout, self.name, 'admin-pages')}: {' '.join(words)!r} is not NAME HOST:PORT"
                     for words in admin_pages
                     if len(words) != 2 or not ADMIN_PAGE_NAME.match(words[0]) or ":" not in words[1]]
        fail(problems)
        resolvers = settings["resolver"].split()
        return {
            "ocsp_stapling": "on" if resolvers and ocsp_responder(settings["certificate"]) else "off",
            "resolvers": resolvers,
            "zmi_allow": [str(ipaddress.ip_network(value, strict=False)) for value in settings["zmi-allow"].split()],
            "limit_exempt": [str(ipaddress.ip_network(value, strict=False))
                             for value in settings["limit-exempt"].split()],
            "author_pattern": alternation(settings["author-paths"]),
            "login_pattern": alternation(settings["login-paths"]),
            "admin_pattern": alternation(settings["admin-paths"]) if settings["admin-paths"].strip() else "",
            "methods": "|".join(methods),
            "method_query_pattern": METHOD_QUERY_PATTERN,
            "login_query_pattern": LOGIN_QUERY_PATTERN,
            "csp_header": ("Content-Security-Policy-Report-Only" if settings["csp-report-only"] == "true"
                           else "Content-Security-Policy"),
            "internal_headers": INTERNAL_HEADERS,
            "admin_pages": admin_pages,
            "https_url": https_url(self.options["public-host"], self.options["public-port"]),
        }


# The port each scheme's clients use when the URL names none: the other scheme there is a listener no
# browser can talk to (TLS to a plain listener, plain HTTP to a TLS one).
DEFAULT_PORTS = {"listen-http": ("443", "HTTPS"), "listen-https": ("80", "plain HTTP")}


def swapped_schemes(buildout, name, options):
    """nginx's plain listener on HTTPS's port, or its TLS listener on plain HTTP's."""
    return [f"{where(buildout, name, key)} = {options[key]!r} is the port of {scheme}: browsers would speak "
            f"{scheme} to it"
            for key, (port, scheme) in DEFAULT_PORTS.items() if split_bind(options[key])[1] == port]


def alternation(lines):
    """One regular expression matching any of the patterns of LINES (one per line)."""
    return "(" + "|".join(line.strip() for line in lines.splitlines() if line.strip()) + ")"


def ocsp_responder(certificate):
    """The OCSP responder URL the certificate names, or '' (self-signed ones name none)."""
    result = subprocess.run(
        ["openssl", "x509", "-noout", "-ocsp_uri", "-in", certificate],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    if result.returncode:
        raise ConfigError(f"{certificate} is not a PEM certificate: {result.stderr.strip()}")
    return result.stdout.strip()


def https_url(host, port):
    return f"https://{host}" if str(port).strip() == "443" else f"https://{host}:{port}"
