"""bin/bench spike: three spike shapes, each confined, confined without priorities, and shared.

Each run is bin/loadtest (Locust) in one process and the probe
(surge.loadtest.probe: an author editing, a member logging in again and
again) in another, so the authors' and the logins' figures do not depend on
the load generator's own event loop, which is short of CPU in a spike. The lull's figures leave the probe's
first requests out. During the spike the machine's busy CPU share is
measured (100% = every core busy all the time), with the busiest processes.

Shapes (the lull and the lull after come from etc/loadtest.conf):

spike        the settings' own shape (etc/loadtest.conf);
stampede     600 visitors within 3 s, held 90 s, 15% of the readers
             searching with queries nobody sent before (uncacheable);
login storm  400 visitors within 4 s, held 90 s, a quarter of them members,
             each logging in as it arrives.

Each shape runs on three sides, one right after the other (the order turns
from shape to shape, so that a warmer cache does not always help the same
side):

confined                      the servers as separate machines would run
                              them (surge.cluster.cpus: the web servers, Locust
                              and the probe on the first half of the CPUs, the
                              app servers on the second), the instances at
                              their pools' nice levels as built;
confined, without priorities  the same with every instance at nice 0;
shared                        every process on every CPU, the nice levels as
                              built: what this one machine adds.
"""

import argparse
import os
import subprocess
import sys
import time

from surge.buildout.progress import sayer
from surge.cluster import cpus
from surge.loadtest import cpu, priorities, probe, results, samples
from surge.loadtest.phases import phases
from surge.loadtest.report import CLASSES, by_phase, figures

# One author editing at a brisk editor's pace, a second's pause after each page: some 50 requests in the
# lull, more in the spike. Faster, the probe itself becomes most of the author pool's load (ten edit forms
# a second took most of the confined app core and starved the members). Its member logs in every
# LOGIN_EVERY seconds.
PROBE_PAUSE = 1
LOGIN_EVERY = 2
# Locust's request name of a member's login (locustfile.Visitor.log_in).
LOGIN = "member: log in"
# ...and of a search nobody sent before (locustfile.Searcher.fresh_search), which only Zope can answer.
FRESH_SEARCH = "anonymous: fresh search"
SHAPES = {
    results.SPIKE: {},
    results.STAMPEDE: {"spike-users": 600, "ramp-seconds": 3, "spike-seconds": 90, "fresh-search-share": 15},
    results.LOGIN_STORM: {"spike-users": 400, "ramp-seconds": 4, "spike-seconds": 90, "anonymous-weight": 75,
                          "member-weight": 25},
}


def shape_options(options, overrides):
    values = vars(options).copy()
    values.update({key.replace("-", "_"): value for key, value in overrides.items()})
    return argparse.Namespace(**values)


def on_cpus(chosen):
    """A preexec_fn putting the child on CHOSEN CPUs (taskset), or None to leave it on every one."""
    return (lambda: os.sched_setaffinity(0, chosen)) if chosen else None


def arguments(overrides):
    return [part for key, value in overrides.items() for part in (f"--{key}", str(value))]


say = sayer("bench")


class SpikeBench:
    def __init__(self, bench):
        self.bench = bench

    def run(self):
        found = {}
        try:
            for index, (shape, overrides) in enumerate(SHAPES.items()):
                order = results.SIDES[index % len(results.SIDES):] + results.SIDES[:index % len(results.SIDES)]
                found[shape] = {side: self.one(shape, overrides, side) for side in order}
        finally:
            self.place(confined=False)
        return found

    def place(self, confined):
        """The cluster's servers confined to their CPUs or on every CPU; the load's CPUs (None: every one)."""
        root = self.bench.cluster.root
        placed = cpus.confine(root) if confined else cpus.share(root)
        say("  " + "; ".join(f"{name} on CPUs {cpus.shown(chosen)}" for name, (chosen, _) in placed.items()))
        return cpus.halves()[cpus.WEB] if confined else None

    def one(self, shape, overrides, side):
        plan = phases(shape_options(self.bench.options, overrides))
        steps = " ".join(f"{p.name} {p.end - p.start:.0f} s at {p.users} users" for p in plan)
        say(f"spike: {shape}, {side}: {steps}")
        load_cpus = self.place(confined=side != results.SHARED)
        if load_cpus:
            say(f"  Locust and the probe on CPUs {cpus.shown(load_cpus)}")
        if side != results.CONFINED_FLAT:
            return self.measure(shape, overrides, plan, load_cpus, plots=side == results.CONFINED
                                and shape == results.SPIKE)
        pids = self.bench.cluster.instance_pids()
        with priorities.flattened(pids) as saved:
            say(f"  {len(saved)} threads of {len(pids)} instances at nice 0 for this run")
            return self.measure(shape, overrides, plan, load_cpus)

    def measure(self, shape, overrides, plan, load_cpus, plots=False):
        name = f"spike-{shape.replace(' ', '-')}-{next(self.bench.runs)}"
        sample_file, probe_file = self.bench.file(f"{name}-requests.csv"), self.bench.file(f"{name}-probe.csv")
        options = self.bench.options
        prober = subprocess.Popen(
            [sys.executable, "-m", "surge.loadtest.probe", "--site", options.sites.split()[0],
             "--ca-file", options.ca_file, "--password", options.account_password,
             "--seconds", str(plan[-1].end + 180), "--pause", str(PROBE_PAUSE), "--login-every", str(LOGIN_EVERY),
             "--output", probe_file],
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, preexec_fn=on_cpus(load_cpus))
        command = [os.path.join(self.bench.bin, "loadtest"), *arguments(overrides), "--only-summary",
                   "--admin-password-file", "", "--csv", self.bench.file(name), "--csv-full-history",
                   "--html", self.bench.file(f"{name}-report.html"), "--samples", sample_file]
        locust = None
        try:
            with open(self.bench.file(f"{name}.log"), "w") as log:
                locust = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                          preexec_fn=on_cpus(load_cpus))
                during = self.during_spike(locust, sample_file, plan)
                locust.wait()
        finally:
            # Also when the bench is interrupted: nothing it started outlives it.
            for process in (locust, prober):
                if process and process.poll() is None:
                    process.terminate()
                    process.wait(timeout=60)
        rows, start = samples.read(sample_file), samples.started(sample_file)
        if start is None:
            raise SystemExit(f"bench: bin/loadtest did not start; see {self.bench.file(name + '.log')}")
        probe_rows = samples.read(probe_file)
        found = self.figures(rows, probe_rows, start, plan)
        found.update(during)
        found["command"] = " ".join(["bin/loadtest", *arguments(overrides)])
        if load_cpus:
            found["command"] = (f"bin/cluster confine; taskset -c {cpus.shown(load_cpus)} {found['command']}")
        say(f"  failed: {found['failed']}; probe p95 lull {found['probe lull']['p95']} ms, spike "
                 f"{found['probe spike']['p95']} ms ({found['probe spike']['requests']} requests); "
                 f"logins p95 {found['probe logins']['p95']} ms (probe), {found['logins']['p95']} ms (Locust); "
                 f"CPU busy {found['cpu busy'] * 100:.0f}%")
        say(f"  busiest during the spike: {found['cpu']}")
        if plots:
            results.spike_plots(rows + probe_rows, start, plan, os.path.join(self.bench.args.docs, "bench"))
        return found

    @staticmethod
    def figures(rows, probe_rows, start, plan):
        phased = by_phase(rows, plan, start)
        probe_phased = by_phase([row for row in probe_rows if row[2] == probe.EDIT_FORM], plan, start)
        logins = by_phase([row for row in probe_rows if row[2] == probe.LOGIN], plan, start)
        busy = phased["ramp"] + phased["spike"]
        return {
            "requests": len(rows), "failed": {kind: sum(1 for r in rows if r[1] == kind and r[4]) for kind in CLASSES},
            "classes in the spike": {kind: figures([r for r in phased["spike"] if r[1] == kind]) for kind in CLASSES},
            "classes in the lull": {kind: figures([r for r in phased["lull"] if r[1] == kind]) for kind in CLASSES},
            # A shed request is the panic page: a failed page view, counted where the visitor met it.
            "failed by phase": {phase: {kind: sum(1 for r in found if r[1] == kind and r[4]) for kind in CLASSES}
                                for phase, found in phased.items()},
            "fresh searches": {phase: {"requests": len(searches), "answered": sum(1 for r in searches if not r[4])}
                               for phase, found in phased.items()
                               for searches in [[r for r in found if r[2] == FRESH_SEARCH]]},
            "probe lull": figures(probe_phased["lull"]), "probe spike": figures(probe_phased["spike"]),
            "probe failed": sum(1 for row in probe_rows if row[4] and row[0] >= start),
            "logins": figures([row for row in busy if row[2] == LOGIN]),
            "probe logins": figures(logins["ramp"] + logins["spike"]),
            "probe logins lull": figures(logins["lull"]),
            "spike rps": len(phased["spike"]) / max(plan[2].end - plan[2].start, 1),
            "top users": plan[2].users,
        }

    def during_spike(self, process, sample_file, plan):
        """The machine's busy share and the busiest processes during the spike phase."""
        deadline = time.monotonic() + 120
        while samples.started(sample_file) is None and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        start = samples.started(sample_file)
        if start is None:
            return {"cpu busy": 0.0, "cpu": ""}
        spike = plan[2]
        time.sleep(max(start + spike.start - time.time(), 0))
        before, machine = cpu.snapshot(), cpu.machine_times()
        time.sleep(max(start + spike.end - time.time(), 0))
        return {"cpu busy": cpu.busy_share(machine, cpu.machine_times()),
                "cpu": cpu.describe(cpu.usage(before, cpu.snapshot()))}
