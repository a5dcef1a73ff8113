"""Recipe surge.buildout:varnish: the VCL, with what varnish.vcl.j2 must not decide.

A surge.buildout:template (``settings = varnish-settings``) whose options also
include:

purgers
    Keys of [hosts] allowed to send PURGE and BAN (the application servers,
    [topology] app-sources). Each must resolve here: the VCL's access list
    holds addresses.
backends, backend-port, probe-path
    The app servers ([topology] app-servers: [hosts] keys, in order of
    preference), each running HAProxy on backend-port, where misses go, and
    the path of HAProxy's health answer.

Derived for the template: ``backends`` and ``retry_order`` (each
{"name", "host", "port"}; the retry order starts from the second, so a
request that found the first HAProxy dead is tried on the next),
``purgers`` (sorted addresses, without repeats), ``keep_cookies`` (a regular
expression alternation), ``includes``.
"""

import re

from surge.buildout.errors import fail, where
from surge.buildout.network import addresses_of_keys
from surge.buildout.rendering import Template
from surge.buildout.schema import (
    VARNISH_SIZE,
    VARNISH_TIME,
    VARNISHADM,
    VARNISHD,
    VARNISHNCSA,
    VARNISHSTAT,
    Choice,
    Integer,
    Names,
    Path,
    Regex,
    Schema,
    Setting,
)

SETTINGS = Schema("varnish-settings", {
    "binary": Setting(VARNISHD),
    "ncsa-binary": Setting(VARNISHNCSA),
    "stat-binary": Setting(VARNISHSTAT),
    "admin-binary": Setting(VARNISHADM),
    "memory": Setting(VARNISH_SIZE.at_least("16M", "the cache would hold next to nothing")),
    # 0 is a choice here: no grace, no hit-for-miss.
    **{key: Setting(VARNISH_TIME) for key in ("grace-healthy", "grace-sick", "uncacheable-ttl")},
    **{key: Setting(VARNISH_TIME.at_least("100ms", "a shorter wait fails a backend that is only busy"))
       for key in ("connect-timeout", "first-byte-timeout", "between-bytes-timeout", "probe-timeout")},
    "probe-interval": Setting(VARNISH_TIME.at_least("100ms", "probes this often are all HAProxy would answer")),
    "keep-cookies": Setting(Names(r"[A-Za-z0-9_.-]+", "a cookie name")),
    "gzip-types": Setting(Regex()),
    # Varnish refuses a thread_pool_max below thread_pool_min (100).
    "thread-pool-max": Setting(Integer(100, 100000)),
    "includes": Setting(Path(exists=True, many=True), empty=True),
    "hit-log": Setting(Choice(("summary", "every"))),
    "hit-summary-seconds": Setting(Integer(1, 3600, unit="seconds")),
    "anonymous-limit": Setting(Integer(10, 100000, unit="requests")),
    "anonymous-period": Setting(VARNISH_TIME.at_least("1s", "the limit would refill as fast as a visitor asks")),
})


class Varnish(Template):
    schema = SETTINGS

    def derive(self):
        purgers, problems = addresses_of_keys(self.buildout, self.options["purgers"].split(),
                                              where(self.buildout, self.name, "purgers"))
        problems = [problem + "; Varnish's PURGE access list needs one" for problem in problems]
        backends = [{"name": "haproxy_" + re.sub(r"\W", "_", key), "host": self.buildout["hosts"][key].strip(),
                     "port": self.options["backend-port"].strip()} for key in self.options["backends"].split()]
        if not backends:
            problems.append(f"{where(self.buildout, self.name, 'backends')} names no app server: Varnish would "
                            "have nowhere to send a miss")
        fail(problems)
        return {
            "backends": backends,
            "retry_order": backends[1:] + backends[:1],
            "purgers": purgers,
            "keep_cookies": "|".join(re.escape(name) for name in self.settings["keep-cookies"].split()),
            "includes": self.settings.get("includes", "").split(),
        }
