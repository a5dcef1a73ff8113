"""Recipe surge.buildout:nginx: nginx.conf, with what nginx.conf.j2 must not decide.

A surge.buildout:template whose options also include:

certificate, key
    The TLS certificate (full chain, PEM) and its key. Required; both must
    exist when the file is built.
resolver
    DNS servers nginx asks for the OCSP responder; empty turns stapling off.
zmi-allow
    Addresses and networks that may reach the Zope management interface.
author-paths
    Regular expressions (one per line) of paths that only authors use: edit
    and add forms, /manage, control panels.
public-host, public-port
    How browsers reach the site: the virtual host rewrite and the HTTP
    redirect use them.
dhparam
    Where the Diffie-Hellman group for the DHE ciphers goes; the build writes
    RFC 7919's ffdhe2048 there when it is missing (Mozilla's recommendation).

Derived for the template: ``ocsp_stapling`` (``on`` when the certificate
names an OCSP responder and a resolver is set, else ``off``), ``zmi_allow`` (validated networks),
``author_pattern`` (one alternation), ``https_url`` (no :443 when it is 443),
``resolvers``.
"""

import ipaddress
import os
import re
import subprocess

from surge.buildout.origin import ConfigError, fail, where
from surge.buildout.template import Template


class Nginx(Template):
    def derive(self):
        problems = []
        for key in ("certificate", "key"):
            problems.extend(self.file_problems(key))
        zmi_allow, zmi_problems = self.networks("zmi-allow")
        author_pattern, author_problems = self.author_pattern()
        fail(problems + zmi_problems + author_problems)
        resolvers = self.options.get("resolver", "").split()
        return {
            "ocsp_stapling": "on" if resolvers and ocsp_responder(self.options["certificate"]) else "off",
            "resolvers": resolvers,
            "zmi_allow": zmi_allow,
            "author_pattern": author_pattern,
            "https_url": https_url(self.options["public-host"], self.options["public-port"]),
        }

    def install(self):
        write_dhparam(self.options["dhparam"])
        return super().install()

    update = install

    def file_problems(self, key):
        path = self.options.get(key, "").strip()
        if not path:
            return [f"{where(self.buildout, self.name, key)} is empty: nginx needs the TLS {key} "
                    "(PEM); set its path in the top-level file"]
        if not os.path.isfile(path):
            return [f"{where(self.buildout, self.name, key)} = {path}: no such file"]
        if not os.access(path, os.R_OK):
            return [f"{where(self.buildout, self.name, key)} = {path}: cannot be read by the build user"]
        return []

    def networks(self, key):
        networks, problems = [], []
        for value in self.options.get(key, "").split():
            try:
                networks.append(str(ipaddress.ip_network(value, strict=False)))
            except ValueError:
                problems.append(f"{where(self.buildout, self.name, key)}: {value!r} is not an address or network")
        return networks, problems

    def author_pattern(self):
        paths = [line.strip() for line in self.options.get("author-paths", "").splitlines() if line.strip()]
        for path in paths:
            try:
                re.compile(path)
            except re.error as error:
                return None, [f"{where(self.buildout, self.name, 'author-paths')}: {path!r} is not a "
                              f"regular expression ({error})"]
        if not paths:
            return None, [f"{where(self.buildout, self.name, 'author-paths')} is empty"]
        return "(" + "|".join(paths) + ")", []


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


def write_dhparam(path):
    """RFC 7919's ffdhe2048 group, a published constant, written once."""
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    subprocess.run(
        ["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out", path],
        check=True, stdout=subprocess.DEVNULL,
    )
