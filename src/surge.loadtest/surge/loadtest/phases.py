"""The phases of the spike run, from the settings: lull, ramp, spike, after.

Kept apart from the Locust shape (shape.py) so that bin/bench can use them
without importing Locust, whose gevent patches the standard library.
"""

from dataclasses import dataclass

NAMES = ("lull", "ramp", "spike", "after")


@dataclass(frozen=True)
class Phase:
    name: str
    start: float
    end: float
    users: int
    spawn_rate: float


def phases(options):
    """The run's phases from the settings (lull, ramp, spike, after)."""
    lull, spike = options.lull_users, options.spike_users
    ramp = max(options.ramp_seconds, 1)
    plan = zip(NAMES, (
        (options.lull_seconds, lull, max(lull, 1)),
        (ramp, spike, max(spike - lull, 1) / ramp),
        (options.spike_seconds, spike, max(spike - lull, 1) / ramp),
        # Visitors leave as fast as they came.
        (options.after_seconds, lull, max(spike - lull, 1) / ramp),
    ))
    result, start = [], 0.0
    for name, (seconds, users, rate) in plan:
        result.append(Phase(name, start, start + seconds, users, rate))
        start += seconds
    return result


def phase_at(plan, seconds):
    """The phase running SECONDS after the start, or None once the run is over."""
    return next((phase for phase in plan if phase.start <= seconds < phase.end), None)
