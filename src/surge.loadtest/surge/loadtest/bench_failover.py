"""bin/bench failover: what the database's failover and its synchronous replication cost.

Under a steady mix of visitors (surge.loadtest.visitors: readers, searchers,
two authors, an editor saving a page through the REST API):

- saves with synchronous replication against the same saves with it turned
  off (Patroni's synchronous_mode, changed in etcd for the cluster and back),
  in turn, for as many rounds as the other benchmarks: an author's save
  latency, p50 and p95, both ways;
- the primary's server killed at once (bin/cluster kill): the time from the
  cut to the first confirmed save, and the failed requests by kind; then the
  server is brought back as a replica and the primary switched back to it, so
  the cluster is left as it was found.
"""

import os
import subprocess
import time

from surge.cluster import running
from surge.loadtest.report import percentile
from surge.loadtest.results import ASYNCHRONOUS, KILLED, SYNCHRONOUS
from surge.loadtest.visitors import Visitors

# An editor saving as fast as the site answers: the latency is what is measured.
EDIT_EVERY = 0.2


class FailoverBench:
    def __init__(self, bench):
        self.bench = bench
        self.root = bench.cluster.root

    def patronictl(self, *arguments):
        primary = running.primary(self.root)
        config = os.path.join(self.root, primary, "etc", "patroni.yml")
        subprocess.run(["patronictl", "-c", config, *arguments], check=True, capture_output=True, text=True)

    def replication(self, synchronous):
        """Turn synchronous replication on or off for the cluster; returns once the replica follows suit."""
        self.patronictl("edit-config", "--force", "-s", f"synchronous_mode={str(synchronous).lower()}")
        wanted = "sync_standby" if synchronous else "replica"
        running.wait_for(lambda: any(member.get("role") == wanted for member in running.members(self.root)),
                         f"the replica to be a {wanted}", deadline=120)

    def saves(self, name, synchronous):
        def run():
            self.replication(synchronous)
            with Visitors(self.root, edit_every=EDIT_EVERY) as visitors:
                time.sleep(self.bench.args.seconds)
            durations = sorted((outcome.ended - outcome.started) * 1000 for outcome in visitors.of("editor")
                               if outcome.ok)
            return {"saves": len(durations), "failed": len(visitors.failures("editor")),
                    "p50": percentile(durations, 50), "p95": percentile(durations, 95)}

        reproduce = (f"bin/bench --only failover   (saves through web-1's REST API every {EDIT_EVERY} s for "
                     f"{self.bench.args.seconds} s; patronictl edit-config -s synchronous_mode="
                     f"{str(synchronous).lower()})")
        return name, run, reproduce

    def failover(self):
        primary = running.primary(self.root)
        with Visitors(self.root) as visitors:
            time.sleep(10)
            cut = time.monotonic()
            running.kill(self.root, primary)
            running.wait_for(lambda: running.primary(self.root) not in (None, primary), "a new primary", 120)
            running.wait_for(lambda: visitors.first_success_after("editor", cut), "a save after the cut", 120)
            time.sleep(10)
        pause = visitors.first_success_after("editor", cut) - cut
        found = {"write pause s": pause, "killed": primary}
        for kind in ("reader", "search", "author", "editor"):
            found[f"{kind} failed"] = len(visitors.failures(kind))
            found[f"{kind} requests"] = len(visitors.of(kind))
        # Back as it was: the killed server rejoins as a replica and is made the primary again.
        running.up(self.root, [primary])
        running.wait_for(lambda: any(m["name"] == primary and m.get("lag") == 0 for m in running.members(self.root)),
                         f"{primary} in sync again", deadline=180)
        self.patronictl("switchover", "--force", "--candidate", primary)
        running.wait_for(lambda: running.primary(self.root) == primary, f"{primary} the primary again", 120)
        return found

    def run(self):
        found = self.bench.in_rounds("failover", [self.saves(SYNCHRONOUS, True), self.saves(ASYNCHRONOUS, False)])
        self.replication(True)
        found[KILLED] = self.bench.measure("failover: the primary killed under load", self.failover,
                                           "bin/cluster kill PRIMARY under bin/bench's visitors; bin/cluster up "
                                           "PRIMARY; bin/database switchover --to PRIMARY", accounting=False)
        return found
