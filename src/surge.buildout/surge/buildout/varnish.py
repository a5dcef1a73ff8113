"""Recipe surge.buildout:varnish: the VCL, with what varnish.vcl.j2 must not decide.

A surge.buildout:template whose options also include:

purgers
    Keys of [hosts] allowed to send PURGE and BAN (the application servers,
    [topology] app-servers). Each must resolve here: the VCL's access list
    holds addresses.
keep-cookies
    The cookies that make a page personal (login, session, status message);
    every other cookie is dropped before the cache lookup.
includes
    VCL files with local additions, included first (hook points).
grace-healthy, grace-sick, uncacheable-ttl, connect-timeout,
first-byte-timeout, between-bytes-timeout, probe-interval, probe-timeout
    Durations in VCL's form: a number and a unit (ms, s, m, h, d, w, y).

Derived for the template: ``purgers`` (sorted addresses, without repeats),
``keep_cookies`` (a regular expression alternation), ``includes``.
"""

import os
import re
import socket

from surge.buildout.checks import valid_host
from surge.buildout.origin import fail, where
from surge.buildout.template import Template

DURATION = re.compile(r"^\d+(\.\d+)?(ms|s|m|h|d|w|y)$")
DURATIONS = (
    "grace-healthy", "grace-sick", "uncacheable-ttl", "connect-timeout", "first-byte-timeout",
    "between-bytes-timeout", "probe-interval", "probe-timeout",
)
COOKIE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class Varnish(Template):
    def derive(self):
        problems = [
            f"{where(self.buildout, self.name, key)} = {self.options[key]!r} is not a duration "
            "such as 30s, 5m or 6h"
            for key in DURATIONS
            if not DURATION.match(self.options[key].strip())
        ]
        purgers = set()
        for key in self.options["purgers"].split():
            host = self.buildout["hosts"].get(key, "")
            addresses = addresses_of(host) if valid_host(host) else []
            if not addresses:
                problems.append(f"{where(self.buildout, 'hosts', key)} = {host!r} does not resolve to an "
                                "address here; Varnish's PURGE access list needs one")
            purgers.update(addresses)
        cookies = self.options["keep-cookies"].split()
        problems.extend(
            f"{where(self.buildout, self.name, 'keep-cookies')}: {name!r} is not a cookie name"
            for name in cookies if not COOKIE_NAME.match(name)
        )
        includes = self.options.get("includes", "").split()
        problems.extend(
            f"{where(self.buildout, self.name, 'includes')}: {path} does not exist"
            for path in includes if not os.path.isfile(path)
        )
        fail(problems)
        return {
            "purgers": sorted(purgers),
            "keep_cookies": "|".join(re.escape(name) for name in cookies),
            "includes": includes,
        }


def addresses_of(host):
    try:
        return {info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except OSError:
        return set()
