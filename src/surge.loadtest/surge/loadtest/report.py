"""Figures of a run from its samples: percentiles per class and per phase."""

import math

from surge.loadtest.phases import phase_at

CLASSES = ("anonymous", "member", "author")


def percentile(values, share):
    """The nearest-rank percentile (share 0-100) of VALUES, or None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share / 100 * len(ordered)) - 1)]


def figures(rows):
    """{"requests", "failed", "p50", "p95", "p99"} of sample rows."""
    times = [ms for _, _, _, ms, failed in rows if not failed]
    return {"requests": len(rows), "failed": sum(1 for row in rows if row[4]),
            **{f"p{p}": percentile(times, p) for p in (50, 95, 99)}}


def by_class(rows):
    return {kind: figures([row for row in rows if row[1] == kind]) for kind in CLASSES}


def by_phase(rows, plan, start):
    """{phase name: rows} with each row's phase from its time since START."""
    result = {phase.name: [] for phase in plan}
    for row in rows:
        phase = phase_at(plan, row[0] - start)
        if phase:
            result[phase.name].append(row)
    return result


def table(rows):
    """Lines of a plain-text table of figures per class."""
    lines = [f"{'class':10} {'requests':>9} {'failed':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"]
    for kind, found in by_class(rows).items():
        cells = [f"{found[p]:8.0f}" if found[p] is not None else f"{'-':>8}" for p in ("p50", "p95", "p99")]
        lines.append(f"{kind:10} {found['requests']:9} {found['failed']:7} {' '.join(cells)}")
    return lines
