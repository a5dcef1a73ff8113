"""The seed's traffic: a long lull, a spike to many times the visitors within
seconds, held, then the lull again; then the run stops by itself.
"""

from dataclasses import dataclass

from locust import LoadTestShape


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
    plan = (
        ("lull", options.lull_seconds, lull, max(lull, 1)),
        ("ramp", ramp, spike, max(spike - lull, 1) / ramp),
        ("spike", options.spike_seconds, spike, max(spike - lull, 1) / ramp),
        # Visitors leave as fast as they came.
        ("after", options.after_seconds, lull, max(spike - lull, 1) / ramp),
    )
    result, start = [], 0.0
    for name, seconds, users, rate in plan:
        result.append(Phase(name, start, start + seconds, users, rate))
        start += seconds
    return result


def phase_at(plan, seconds):
    """The phase running SECONDS after the start, or None once the run is over."""
    return next((phase for phase in plan if phase.start <= seconds < phase.end), None)


class SpikeShape(LoadTestShape):
    def tick(self):
        phase = phase_at(phases(self.runner.environment.parsed_options), self.get_run_time())
        return (phase.users, phase.spawn_rate) if phase else None
