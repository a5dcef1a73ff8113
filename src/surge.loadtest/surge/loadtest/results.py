"""bin/bench's results for the docs: docs/bench/results.inc (tables) and the
spike's plots (PNG). Figures are merged into docs/bench/figures.json, so a
run of some benchmarks (--only) keeps the others' latest figures.
"""

import json
import os
import platform
import time

from surge.loadtest import phases
from surge.loadtest.report import CLASSES, percentile

BUCKET = 5

# The measurements the ratios compare, by name (figures.json keeps them sorted by name, not run order).
CACHED_KEPT = "cached page, kept-alive connections (hit log: summary)"
CACHED_EVERY = "cached page, kept-alive connections (hit log: every hit)"
BARE_KEPT = "same bytes from a bare nginx, kept-alive connections"
DISK_KEPT = "same bytes from disk, kept-alive connections"
CACHED_NEW = "cached page, a new TLS connection per request"
DISK_NEW = "same bytes from disk, a new TLS connection per request"
THROUGH_HAPROXY = "through HAProxy, 4 clients per Zope thread"
DIRECT = "instances directly, 1 client per thread"
EMPTY_BUILDOUT = "an empty buildout"
DEVELOPMENT_BUILD = "buildout.cfg (this checkout)"
FRESH_ONE_AT_A_TIME = "buildout.cfg, fresh machine, eggs one at a time"
FRESH_PARALLEL = "buildout.cfg, fresh machine"
SPIKE = "spike"
STAMPEDE = "stampede"
LOGIN_STORM = "login storm"
SYNCHRONOUS = "saves, synchronous replication"
ASYNCHRONOUS = "saves, asynchronous replication"
KILLED = "the primary's server killed under load"
# The sides of each spike shape (surge.loadtest.bench_spike).
CONFINED = "confined"
CONFINED_FLAT = "confined, without priorities"
SHARED = "shared"
SIDES = (CONFINED, CONFINED_FLAT, SHARED)
# The author probe's requests (surge.loadtest.probe) in the plots, beside Locust's classes.
PLOTTED = (*CLASSES, "probe")


def number(value, digits=0):
    return "-" if value is None else f"{value:,.{digits}f}"


def ratio(a, b):
    return "-" if not a or not b else f"{a / b:.2f}"


def table(header, rows):
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in (header, *rows):
        lines += [f"   * - {row[0]}", *(f"     - {cell}" for cell in row[1:])]
    return lines + [""]


def rounds(found):
    counts = {f.get("rounds", 1) for f in found.values() if isinstance(f, dict)}
    count = max(counts) if counts else 1
    return [f"Each row is the mean of {count} rounds, the measurements taken in turn (counts are totals).", ""]


def commands(found):
    lines = ["Reproduce:", ""]
    for name, figures in found.items():
        if isinstance(figures, dict) and "command" in figures:
            lines += [f"- {name}: ``{figures['command']}``"]
    return lines + [""]


def web_section(found):
    rows = [(name, number(f["rps"]), number(f["p50"], 1), number(f["p99"], 1), number(f["bytes_per_response"]),
             f["errors"], f["cpu"]) for name, f in found.items()]
    lines = [".. rubric:: Web tier: a cached page against the same bytes from disk", "",
             *table(("measurement", "requests/s", "p50 ms", "p99 ms", "bytes/response", "errors",
                     "busiest processes (100% = one core)"), rows), *rounds(found)]
    if all(name in found for name in (CACHED_KEPT, DISK_KEPT, CACHED_NEW, DISK_NEW)):
        kept = ratio(found[CACHED_KEPT]["rps"], found[DISK_KEPT]["rps"])
        new = ratio(found[CACHED_NEW]["rps"], found[DISK_NEW]["rps"])
        lines += [f"Cached page / disk, requests per second: **{kept}** with kept-alive connections, **{new}** "
                  f"with a new TLS connection per request; p99 with kept-alive connections "
                  f"{number(found[CACHED_KEPT]['p99'], 1)} ms against {number(found[DISK_KEPT]['p99'], 1)} ms.",
                  ""]
    if all(name in found for name in (CACHED_KEPT, CACHED_EVERY, BARE_KEPT)):
        bare = found[BARE_KEPT]["rps"]
        lines += [f"Cached page / a bare nginx serving the same bytes: **{ratio(found[CACHED_KEPT]['rps'], bare)}** "
                  f"with the hit log summed up (the default), **{ratio(found[CACHED_EVERY]['rps'], bare)}** with a "
                  f"line per hit.", ""]
    return lines + commands(found)


def members_section(found):
    legs = {name: f for name, f in found.items() if isinstance(f, dict)}
    rows = [(name, f["users"], number(f["rps"], 1), number(f["p50"]), number(f["p99"]), f["requests"], f["failed"],
             f["cpu"]) for name, f in legs.items()]
    lines = [".. rubric:: Members: HAProxy's queue against the instances directly", "",
             f"The cluster has {found.get('threads')} Zope threads.", "",
             *table(("measurement", "clients", "requests/s", "p50 ms", "p99 ms", "requests", "failed",
                     "busiest processes (100% = one core)"), rows), *rounds(legs)]
    if THROUGH_HAPROXY in legs and DIRECT in legs:
        lines += [f"Throughput through HAProxy / directly: "
                  f"**{ratio(legs[THROUGH_HAPROXY]['rps'], legs[DIRECT]['rps'])}**, "
                  f"failed requests through HAProxy: **{legs[THROUGH_HAPROXY]['failed']}**.", ""]
    return lines + commands(legs)


def failed_by_class(failed):
    return " / ".join(str(failed.get(kind, 0)) for kind in CLASSES)


def answered(searches):
    """"120 of 240 (0.50)": the searches of one phase answered, of those sent."""
    if not searches.get("requests"):
        return "none sent"
    return f"{searches['answered']} of {searches['requests']} ({searches['answered'] / searches['requests']:.2f})"


def spike_ratio(sides, side, other):
    """"**0.42** (120 ms against 286 ms)": the author probe's spike p95 of SIDE over OTHER's."""
    a, b = sides[side]["probe spike"]["p95"], sides[other]["probe spike"]["p95"]
    return f"**{ratio(a, b)}** ({number(a)} ms against {number(b)} ms)"


def spike_section(found):
    shapes = {shape: sides for shape, sides in found.items() if isinstance(sides, dict) and CONFINED in sides}
    runs = [(shape, side, sides[side]) for shape, sides in shapes.items() for side in SIDES if side in sides]
    rows, phased, lines = [], [], []
    for shape, side, f in runs:
        lull, spike = f["probe lull"], f["probe spike"]
        authors = (number(f.get("classes in the lull", {}).get("author", {}).get("p95")),
                   number(f["classes in the spike"].get("author", {}).get("p95")))
        rows.append((shape, side, f["top users"], f"{f['cpu busy'] * 100:.0f}%",
                     f"{number(lull['p95'])} ({lull['requests']})", f"{number(spike['p95'])} ({spike['requests']})",
                     ratio(spike["p95"], lull["p95"]), " / ".join(authors),
                     number(f["classes in the spike"]["member"]["p95"]),
                     f"{number(f['probe logins']['p95'])} / {number(f['logins']['p95'])}"))
        by_phase = f.get("failed by phase", {})
        phased.append((shape, side, *(failed_by_class(by_phase.get(phase, {})) for phase in phases.NAMES),
                       failed_by_class(f["failed"]), f["probe failed"]))
    for shape, sides in shapes.items():
        if CONFINED_FLAT in sides:
            lines.append(f"- {shape}: the author's p95 in the spike, confined, with the priorities / without: "
                         f"{spike_ratio(sides, CONFINED, CONFINED_FLAT)}.")
        if SHARED in sides:
            lines.append(f"- {shape}: the author's p95 in the spike, confined / shared: "
                         f"{spike_ratio(sides, CONFINED, SHARED)}.")
    searches = [(shape, side, *(answered(f["fresh searches"].get(phase, {})) for phase in phases.NAMES))
                for shape, side, f in runs if any(n["requests"] for n in f.get("fresh searches", {}).values())]
    busiest = [f"- {shape}, {side}: {f['cpu']}" for shape, side, f in runs]
    commands = [f"- {shape}, {side}: ``{f['command']}``" for shape, side, f in runs
                if side != CONFINED_FLAT]
    return [".. rubric:: Spikes: three shapes, confined and shared, with and without the pools' CPU priorities", "",
            "Confined: the web servers, Locust and the probe on the first half of the CPUs, the app servers on the "
            "second, as separate machines would run them; shared: every process on every CPU. The probe is a "
            "separate process: an author editing its own page (the edit form, one request after another; lull "
            "and spike are its p95 in ms, with the number of requests) and a member logging in every 2 s as a "
            "new visitor (login p95 in the ramp and the spike; Locust's own members' logins beside it). Locust's "
            "authors open the folder contents and the edit form (their p95 in the lull and in the spike). CPU "
            "busy: all cores' busy share during the spike.", "",
            *table(("shape", "side", "visitors", "CPU busy", "author p95 lull", "author p95 spike", "spike / lull",
                    "Locust authors p95 lull / spike", "member p95 spike", "login p95 probe / Locust"), rows),
            *lines, "",
            "Failed page views by phase, anonymous / member / author (Locust's visitors; an anonymous failure is "
            "the panic page, for a request shed at once or one that waited out the queue, 30 s), and the probe's "
            "failed requests:", "",
            *table(("shape", "side", *phases.NAMES, "whole run", "probe"), phased),
            *(["Fresh searches (queries nobody sent before, which only Zope answers) answered with results, of "
               "those sent, by phase:", "", *table(("shape", "side", *phases.NAMES), searches)] if searches else []),
            "Busiest processes during the spike (100% = one core):", "", *busiest, "",
            ".. image:: bench/spike-throughput.png", "   :alt: requests per second of each class over the run", "",
            ".. image:: bench/spike-latency.png", "   :alt: p50 and p95 latency of each class over the run", "",
            "Reproduce (with the cluster running; ``bin/bench --only spike`` runs them all; without priorities: "
            "the same with every instance's threads at nice 0):", "", *commands, ""]


def builds_section(found):
    empty = found.get(EMPTY_BUILDOUT, {}).get("no-op")
    rows = [(config, number(f.get("cold"), 1), number(f.get("no-op"), 2), ratio(f.get("no-op"), empty))
            for config, f in found.items() if isinstance(f, dict) and ("no-op" in f or "cold" in f)]
    return [".. rubric:: Builds: bin/buildout -N of each top-level file", "",
            "Cold: a new server directory with bin/buildout bootstrapped and the eggs already on the machine; "
            "no-op: the same build again (the median of three), against a buildout with no part run by the same "
            "zc.buildout. "
            "Fresh machine: bootstrap.py and the development build in a new clone with no egg, download or pip "
            "cache, with the eggs installed several at a time (the parallel-eggs part) and one at a time (without "
            "it, as zc.buildout alone does).", "",
            *table(("top-level file", "cold s", "no-op s", "no-op / empty buildout"), rows), *commands(found)]


def failover_section(found):
    legs = {name: f for name, f in found.items() if name in (SYNCHRONOUS, ASYNCHRONOUS)}
    rows = [(name, f["saves"], f["failed"], number(f["p50"]), number(f["p95"]), f["cpu"]) for name, f in legs.items()]
    lines = [".. rubric:: Failover: synchronous replication and the loss of the primary", "",
             *table(("measurement", "saves", "failed", "p50 ms", "p95 ms", "busiest processes (100% = one core)"),
                    rows), *rounds(legs)]
    if SYNCHRONOUS in legs and ASYNCHRONOUS in legs:
        lines += [f"A save with synchronous replication / without: p50 "
                  f"**{ratio(legs[SYNCHRONOUS]['p50'], legs[ASYNCHRONOUS]['p50'])}**, p95 "
                  f"**{ratio(legs[SYNCHRONOUS]['p95'], legs[ASYNCHRONOUS]['p95'])}**.", ""]
    killed = found.get(KILLED)
    if killed:
        failed = ", ".join(f"{kind} {killed[f'{kind} failed']} of {killed[f'{kind} requests']}"
                           for kind in ("reader", "search", "author", "editor"))
        lines += [f"{killed['killed']} killed under load: the first confirmed save **{killed['write pause s']:.1f} s** "
                  f"after the cut; failed requests: {failed}.", ""]
    return lines + commands({**legs, **({KILLED: killed} if killed else {})})


SECTIONS = (("web", web_section), ("members", members_section), ("spike", spike_section),
            ("failover", failover_section), ("builds", builds_section))


def write(new_figures, directory, seconds):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "figures.json")
    merged = {}
    if os.path.exists(path):
        with open(path) as stream:
            merged = json.load(stream)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for name, figures in new_figures.items():
        merged[name] = {**figures, "measured": stamp}
    with open(path, "w") as stream:
        json.dump(merged, stream, indent=2, sort_keys=True)
    lines = [".. Generated by bin/bench from figures.json; do not edit.", "",
             f"Measured on {platform.node() or 'this machine'} ({os.cpu_count()} cores); the last run took "
             f"{seconds / 60:.1f} minutes.", ""]
    with open(os.path.join(directory, "results.inc"), "w") as stream:
        stream.write("\n".join(lines + sections(merged)))


def sections(merged):
    """The results.inc lines of every benchmark in MERGED (figures.json's contents)."""
    lines = []
    for name, render in SECTIONS:
        if name in merged:
            figures = {key: value for key, value in merged[name].items() if key != "measured"}
            lines += render(figures) + [f"*Measured {merged[name]['measured']}.*", ""]
    return lines


def buckets(rows, start, kind):
    """{bucket start (s since START): [milliseconds]} of KIND's successful requests."""
    found = {}
    for when, row_kind, _, ms, failed in rows:
        if row_kind == kind and not failed:
            found.setdefault(int((when - start) // BUCKET) * BUCKET, []).append(ms)
    return dict(sorted(found.items()))


def spike_plots(rows, start, plan, directory):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    os.makedirs(directory, exist_ok=True)
    for name, draw in (("spike-throughput.png", "throughput"), ("spike-latency.png", "latency")):
        figure, axes = pyplot.subplots(figsize=(9, 4.5), dpi=100)
        for phase in plan:
            if phase.name in ("ramp", "spike"):
                axes.axvspan(phase.start, phase.end, color="0.92", lw=0)
        for kind in PLOTTED:
            found = buckets(rows, start, kind)
            times = list(found)
            if draw == "throughput":
                axes.plot(times, [len(v) / BUCKET for v in found.values()], label=kind)
            else:
                axes.plot(times, [percentile(v, 50) for v in found.values()], label=f"{kind} p50")
                axes.plot(times, [percentile(v, 95) for v in found.values()], "--", label=f"{kind} p95")
        if draw == "throughput":
            users = axes.twinx()
            users.step([p.start for p in plan] + [plan[-1].end], [p.users for p in plan] + [plan[-1].users],
                       where="post", color="0.5", lw=1)
            users.set_ylabel("visitors (grey)")
            axes.set_ylabel(f"requests per second ({BUCKET} s buckets)")
        else:
            axes.set_yscale("log")
            axes.set_ylabel("milliseconds (log)")
        axes.set_xlabel("seconds since the start (grey: ramp and spike)")
        axes.legend(loc="upper left", fontsize="small")
        figure.tight_layout()
        figure.savefig(os.path.join(directory, name))
        pyplot.close(figure)
