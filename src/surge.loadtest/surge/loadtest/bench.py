"""bin/bench: the cluster against this machine's own limits.

Every figure is a ratio of two measurements made in the same run, on the
same machine, one right after the other (the machine is shared and noisy):

web      a cached anonymous page through nginx (TLS) and Varnish, with each
         hit-log setting, against the same bytes served by the same nginx
         from disk and by a bare nginx (TLS, nothing else) (wrk);
members  member pages with 4 times more clients than the cluster has Zope
         threads through HAProxy, against the instances directly with as
         many clients as threads (Locust);
spike    three spike shapes (bin/loadtest's own, a stampede of uncacheable
         searches, a login storm), each with and without the pools' CPU
         priorities: failures per class, an author probe's latency in the
         spike against the lull, logins, the machine's busy CPU share;
failover an author's save latency with synchronous replication against
         without it, and the write pause when the primary's server is
         killed under load (then it is brought back);
builds   cold and no-op bin/buildout -N of each top-level file.

When the cluster is not running it builds this checkout into it and starts
it (bin/cluster build, up) and waits for the app servers' first backups;
either way it leaves it
as it found it. Each measurement prints its figures, the busiest processes
and the command that reproduces it; the results go to docs/bench/ (a table
and plots for docs/benchmarks.rst) and to var/bench/RUN/.
"""

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from surge.buildout.progress import sayer
from surge.loadtest import bare_nginx, content, cpu, results, samples, settings, wrk
from surge.loadtest.bench_cluster import Cluster
from surge.loadtest.bench_failover import FailoverBench
from surge.loadtest.bench_spike import SpikeBench
from surge.loadtest.report import figures

BENCHMARKS = ("builds", "web", "members", "spike", "failover")
# A no-op build's time is the median of this many runs (one run moves by a few tenths of a second here).
NO_OPS = 3
HERE = os.path.dirname(__file__)


say = sayer("bench")


def measured(name, run, reproduce, accounting=True):
    """RUN() under CPU accounting: its figures plus the busiest processes, printed with REPRODUCE."""
    before = cpu.snapshot()
    found = run()
    if accounting:
        found["cpu"] = cpu.describe(cpu.usage(before, cpu.snapshot()))
    found["command"] = reproduce
    shown = ", ".join(f"{key} {value:.1f}" if isinstance(value, float) else f"{key} {value}"
                      for key, value in found.items() if key not in ("cpu", "command"))
    say(f"{name}: {shown}")
    if accounting:
        say(f"  busiest: {found['cpu']}")
    say(f"  reproduce: {reproduce}")
    return found


# Counts add up over rounds; settings stay; the rest are means.
SUMMED = {"requests", "failed", "errors"}
KEPT = {"users"}


def combine(rounds):
    """One leg's figures over its rounds: the last round's, with numbers as means (counts: sums)."""
    result = dict(rounds[-1])
    for key, value in rounds[0].items():
        if isinstance(value, (int, float)) and key not in KEPT:
            values = [found[key] for found in rounds if found.get(key) is not None]
            result[key] = (sum(values) if key in SUMMED else sum(values) / len(values)) if values else None
    result["rounds"] = len(rounds)
    return result


class Bench:
    def __init__(self, repository, config, output, loadtest_output, eggs_directory, args):
        self.repository, self.eggs_directory, self.args = repository, eggs_directory, args
        self.options = settings.read_config(config)
        for key, value in settings.cluster_defaults(self.options, repository).items():
            setattr(self.options, key, value)
        # The accounts bin/loadtest made and logs in with.
        self.options.account_password = content.account_password(os.path.join(loadtest_output, "accounts.cfg"))
        self.cluster = Cluster(repository, self.options)
        self.directory = os.path.join(output, time.strftime("%Y%m%d-%H%M%S"))
        os.makedirs(self.directory)
        self.bin = os.path.join(repository, "bin")
        self.figures = {}
        self.runs = itertools.count(1)

    def file(self, name):
        return os.path.join(self.directory, name)

    measure = staticmethod(measured)

    def in_rounds(self, group, legs):
        """Each leg (name, run, reproduce) once per round, in turn, so that a busy moment of the
        machine falls on both sides of a ratio; {name: combined figures}."""
        found = {name: [] for name, _, _ in legs}
        for number in range(1, self.args.rounds + 1):
            for name, run, reproduce in legs:
                found[name].append(measured(f"{group}: {name} (round {number})", run, reproduce))
        return {name: combine(rounds) for name, rounds in found.items()}

    # web
    def web(self):
        wrk.require()
        page_url, body = self.cluster.cached_page()
        static_url = self.cluster.publish_static(body)
        gzip = "Accept-Encoding: gzip"
        try:
            with bare_nginx.serving(self.file("bare-nginx"), self.cluster.root, body) as bare_url:
                legs = (
                    (results.CACHED_KEPT, page_url, 64, (gzip,), None),
                    (results.CACHED_EVERY, page_url, 64, (gzip,), "every"),
                    (results.BARE_KEPT, bare_url, 64, (gzip,), None),
                    (results.DISK_KEPT, static_url, 64, (gzip,), None),
                    (results.CACHED_NEW, page_url, 32, (gzip, "Connection: close"), None),
                    (results.DISK_NEW, static_url, 32, (gzip, "Connection: close"), None),
                )
                self.figures["web"] = self.in_rounds("web", [self.web_leg(*leg) for leg in legs])
        finally:
            self.cluster.unpublish_static()

    def web_leg(self, name, url, connections, headers, hit_log):
        """(NAME, run, reproduce) of wrk on URL; with HIT_LOG, web-1's hit log is set to it for the run."""
        argv = wrk.command(url, self.args.seconds, connections, headers=headers)
        reproduce = " ".join(f"'{part}'" if " " in part else part for part in argv)

        def run():
            if not hit_log:
                return wrk.run(argv)
            self.cluster.hit_log(hit_log)
            try:
                return wrk.run(argv)
            finally:
                self.cluster.hit_log()

        if hit_log:
            reproduce += f"   (web-1 built with varnish-settings:hit-log={hit_log})"
        return name, run, reproduce

    # members
    def loadtest(self, name, arguments):
        """bin/loadtest with ARGUMENTS, its samples in this run's directory; (command, samples file)."""
        name = f"{name}-{next(self.runs)}"
        sample_file = self.file(f"{name}-requests.csv")
        argv = [os.path.join(self.bin, "loadtest"), *arguments, "--only-summary", "--admin-password-file", "",
                "--csv", self.file(name), "--csv-full-history", "--html", self.file(f"{name}-report.html"),
                "--samples", sample_file]
        with open(self.file(f"{name}.log"), "w") as log:
            subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False)
        return argv, sample_file

    def member_leg(self, label, name, users, targets, cookie, prefix):
        """(LABEL, run, reproduce) of Locust's member readers: USERS of them spread over TARGETS."""
        arguments = ["-f", os.path.join(HERE, "bench_users.py"), "--users", str(users), "--spawn-rate",
                     str(users), "--run-time", f"{self.args.seconds + 5}s", "--targets", " ".join(targets),
                     "--path-prefix", prefix, "--member-cookie", cookie]

        def run():
            _, sample_file = self.loadtest(name, arguments)
            rows = samples.read(sample_file)
            # The first seconds open connections and warm the instances up.
            begin = rows[0][0] + 5 if rows else 0
            steady = [row for row in rows if row[0] >= begin]
            span = max(steady[-1][0] - steady[0][0], 1e-9) if len(steady) > 1 else 1e-9
            found = figures(steady)
            return {"users": users, "rps": (found["requests"] - found["failed"]) / span, "p50": found["p50"],
                    "p99": found["p99"], "requests": found["requests"], "failed": found["failed"]}

        shown = [("'__ac=<member-1 cookie>'" if argument == cookie else f"'{argument}'" if " " in argument
                  else os.path.relpath(argument, self.repository) if argument.startswith(self.repository)
                  else argument) for argument in arguments]
        reproduce = " ".join(["bin/loadtest", *shown, "--only-summary", "--admin-password-file", "''"])
        return label, run, reproduce

    def members(self):
        pools = self.cluster.pools()
        threads = sum(instance["threads"] for instance in pools["instances"])
        reachable = [instance for instance in pools["instances"] if instance["pool"] in ("member", "shared")]
        cookie = self.cluster.member_cookie()
        prefix = self.cluster.virtual_host_prefix()
        say(f"members: {threads} Zope threads in the cluster, {sum(i['threads'] for i in reachable)} "
            f"of them in the pools members use ({', '.join(i['name'] for i in reachable)})")
        direct_targets = [f"http://{i['address']}" for i in reachable for _ in range(i["threads"])]
        self.figures["members"] = self.in_rounds("members", [
            self.member_leg(results.THROUGH_HAPROXY, "members-haproxy", 4 * threads,
                            [pools["haproxy"]], cookie, prefix),
            self.member_leg(results.DIRECT, "members-direct", len(direct_targets),
                            direct_targets, cookie, prefix),
        ])
        self.figures["members"]["threads"] = threads

    # spike
    def spike(self):
        self.figures["spike"] = SpikeBench(self).run()

    # failover
    def failover(self):
        self.figures["failover"] = FailoverBench(self).run()

    # builds
    def builds(self):
        from surge.cluster import building as cluster

        root = os.path.join(os.path.dirname(self.directory), "builds")
        shutil.rmtree(root, ignore_errors=True)
        say(f"builds: every server into {root}, with the eggs already on this machine")
        versions = cluster.prepare_root(self.repository, root, self.eggs_directory)
        for server in cluster.SERVERS:
            cluster.write_server_files(self.repository, root, server, versions)
        found = {}
        try:
            for server in cluster.SERVERS:
                directory = cluster.prepare_server(self.repository, root, server, cluster.python3(), versions)

                def run(server=server, directory=directory):
                    def timed_build():
                        started = time.monotonic()
                        cluster.run_buildout(server, directory)
                        return time.monotonic() - started

                    cold = timed_build()
                    return {"cold": cold, "no-op": statistics.median(timed_build() for _ in range(NO_OPS))}

                found[server.config] = measured(
                    f"builds: {server.config}", run,
                    f"cd {os.path.relpath(directory, self.repository)} && bin/buildout -N -c cluster.cfg   "
                    f"(after bin/cluster build --root {os.path.relpath(root, self.repository)})",
                    accounting=False)
            found[results.EMPTY_BUILDOUT] = measured(
                "builds: an empty buildout", lambda: {"no-op": self.empty_buildout(root, directory)},
                "bin/buildout -N -c empty.cfg   (empty.cfg: [buildout] parts =)", accounting=False)
            found[results.DEVELOPMENT_BUILD] = measured(
                "builds: this checkout's development build", lambda: {"no-op": self.timed(
                    [os.path.join(self.bin, "buildout"), "-N"], self.repository)},
                "bin/buildout -N   (this checkout, built already)", accounting=False)
            for name, extra in ((results.FRESH_ONE_AT_A_TIME, ["buildout:parts-=parallel-eggs"]),
                                (results.FRESH_PARALLEL, [])):
                found[name] = measured(
                    f"builds: {name}", lambda extra=extra: {"cold": self.fresh_development_build(root, extra)},
                    f"HOME=$(mktemp -d) (a ~/.buildout/default.cfg with empty eggs and download folders); "
                    f"git clone . fresh && cd fresh && python3 bootstrap.py && bin/buildout -N "
                    f"{' '.join(['buildout:allow-picked-versions=false', *extra])}", accounting=False)
        finally:
            # zc.buildout, which reads each server's secrets, changes the working directory.
            os.chdir(self.repository)
            shutil.rmtree(root, ignore_errors=True)
        self.figures["builds"] = found

    @staticmethod
    def timed(command, directory, environment=None):
        started = time.monotonic()
        result = subprocess.run(command, cwd=directory, env=environment, capture_output=True, text=True,
                                check=False)
        if result.returncode:
            raise SystemExit(f"bench: {' '.join(command)} failed in {directory}:\n{result.stdout}{result.stderr}")
        return time.monotonic() - started

    def fresh_development_build(self, root, extra):
        """Seconds of bootstrap.py and bin/buildout in a clone of this checkout's HEAD, as on a fresh machine.

        HOME is a new folder: no egg, download or pip cache. EXTRA is added to bin/buildout's command line.
        """
        home = os.path.join(root, "fresh-home")
        checkout = os.path.join(root, "fresh-checkout")
        for folder in (home, checkout):
            shutil.rmtree(folder, ignore_errors=True)
        folders = {key: os.path.join(home, ".buildout", key) for key in ("eggs", "downloads")}
        for folder in folders.values():
            os.makedirs(folder)
        with open(os.path.join(home, ".buildout", "default.cfg"), "w") as stream:
            stream.write(f"[buildout]\neggs-directory = {folders['eggs']}\ndownload-cache = {folders['downloads']}\n")
        subprocess.run(["git", "clone", "-q", self.repository, checkout], check=True)
        environment = dict(os.environ, HOME=home)
        seconds = sum(self.timed(command, checkout, environment) for command in (
            [sys.executable, "bootstrap.py"], ["bin/buildout", "-N", "buildout:allow-picked-versions=false", *extra]))
        for folder in (home, checkout):
            shutil.rmtree(folder, ignore_errors=True)
        return seconds

    def empty_buildout(self, root, server_directory):
        """Seconds of a buildout with no part, run by a server's bin/buildout (the same zc.buildout)."""
        directory = os.path.join(root, "empty")
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "empty.cfg"), "w") as stream:
            stream.write("[buildout]\nparts =\n")
        command = [os.path.join(server_directory, "bin", "buildout"), "-N", "-c", "empty.cfg"]
        self.timed(command, directory)  # the first run writes bin/ and the installed file
        return statistics.median(self.timed(command, directory) for _ in range(NO_OPS))

    def run(self, chosen):
        started = time.monotonic()
        if "builds" in chosen:
            self.builds()
        needs_cluster = [name for name in chosen if name != "builds"]
        if needs_cluster:
            self.cluster.start()
            content.prepare(self.options, say=say)
        try:
            for name in needs_cluster:
                getattr(self, name)()
        finally:
            self.cluster.restore()
        with open(self.file("figures.json"), "w") as stream:
            json.dump(self.figures, stream, indent=2)
        results.write(self.figures, os.path.join(self.args.docs, "bench"), time.monotonic() - started)
        say(f"done in {(time.monotonic() - started) / 60:.1f} minutes; figures in {self.file('figures.json')}; "
            f"{os.path.join(self.args.docs, 'bench')} updated")


def parse_args(argv, repository):
    parser = argparse.ArgumentParser(prog="bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help=f"comma-separated, some of {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--seconds", type=int, default=15,
                        help="length of each web and members measurement (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="times each web and members measurement is made, in turn (default: %(default)s)")
    parser.add_argument("--docs", default=os.path.join(repository, "docs"),
                        help="where docs/bench/ is written (default: this checkout's docs)")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        parser.error(f"no benchmark {', '.join(unknown)}; the benchmarks are {', '.join(BENCHMARKS)}")
    return args, [name for name in BENCHMARKS if name in chosen]


def main(repository, config, output, loadtest_output, eggs_directory=None, argv=None):
    args, chosen = parse_args(sys.argv[1:] if argv is None else argv, repository)
    Bench(repository, config, output, loadtest_output, eggs_directory, args).run(chosen)
    return 0
