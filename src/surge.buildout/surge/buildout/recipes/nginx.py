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
user, site-id, panic-page, munin-http, syslog, var
    nginx's worker user, the Plone site, the panic page, the Munin master's
    pages, the syslog socket and the runtime folder.

Derived for the template: ``ocsp_stapling`` (``on`` when the certificate
names an OCSP responder and a resolver is set, else ``off``), ``zmi_allow`` (validated networks),
``author_pattern`` (one alternation), ``https_url`` (no :443 when it is 443),
``resolvers``.
"""

import ipaddress
import os
import subprocess

from surge.buildout.errors import ConfigError, fail, where
from surge.buildout.rendering import Template
from surge.buildout.schema import (
    EXISTING_FILE,
    NGINX_SIZE,
    NGINX_TIME,
    PROGRAM,
    Hosts,
    Integer,
    Networks,
    Path,
    Regex,
    Schema,
    Setting,
    Text,
)

SETTINGS = Schema("nginx-settings", {
    "binary": Setting(PROGRAM),
    "mime-types": Setting(EXISTING_FILE),
    "certificate": Setting(EXISTING_FILE),
    "key": Setting(EXISTING_FILE),
    "resolver": Setting(Hosts(), empty=True),
    "zmi-allow": Setting(Networks()),
    "author-paths": Setting(Regex()),
    "worker-processes": Setting(Text(r"auto|[1-9][0-9]{0,3}", "auto or a number of processes")),
    "worker-connections": Setting(Integer(64, 1000000)),
    "worker-rlimit-nofile": Setting(Integer(1024, 1048576)),
    "client-max-body-size": Setting(NGINX_SIZE),
    "client-timeout": Setting(NGINX_TIME),
    "keepalive-timeout": Setting(NGINX_TIME),
    "upstream-connect-timeout": Setting(NGINX_TIME),
    "upstream-read-timeout": Setting(NGINX_TIME),
    "upstream-keepalive": Setting(Integer(1, 100000)),
    "hsts-max-age": Setting(Integer(0, unit="seconds")),
    "retry-after": Setting(Integer(1, 86400, unit="seconds")),
    "static-root": Setting(Path()),
})


class Nginx(Template):
    schema = SETTINGS

    def derive(self):
        settings = self.settings
        problems = []
        if not os.access(settings["key"], os.R_OK):
            problems.append(f"{where(self.buildout, self.settings_section, 'key')} = {settings['key']}: cannot be "
                            "read by the build user")
        fail(problems)
        resolvers = settings["resolver"].split()
        paths = [line.strip() for line in settings["author-paths"].splitlines() if line.strip()]
        return {
            "ocsp_stapling": "on" if resolvers and ocsp_responder(settings["certificate"]) else "off",
            "resolvers": resolvers,
            "zmi_allow": [str(ipaddress.ip_network(value, strict=False)) for value in settings["zmi-allow"].split()],
            "author_pattern": "(" + "|".join(paths) + ")",
            "https_url": https_url(self.options["public-host"], self.options["public-port"]),
        }


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
