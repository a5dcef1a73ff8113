"""The seed's traffic: a long lull, a spike to many times the visitors within
seconds, held, then the lull again; then the run stops by itself.
"""

from locust import LoadTestShape

from surge.loadtest.phases import phase_at, phases


class SpikeShape(LoadTestShape):
    def tick(self):
        phase = phase_at(phases(self.runner.environment.parsed_options), self.get_run_time())
        return (phase.users, phase.spawn_rate) if phase else None
