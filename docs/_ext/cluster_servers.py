"""``.. cluster-servers::``: the one-machine cluster's servers, their addresses and top-level files.

Read from the cluster's manifest (surge.cluster.topology.SERVERS), which
bin/cluster and the tests read too, so the table cannot drift from it.
"""

from docutils.parsers.rst import Directive
from rst_tables import list_table


class ClusterServers(Directive):
    def run(self):
        from surge.cluster import topology

        self.state.document.settings.env.note_dependency(topology.__file__)
        rows = [[server.name, server.address, f"``{server.config}``"] for server in topology.SERVERS]
        return list_table(self, "cluster-servers", (25, 25, 50), ["Server (start order)", "Address", "Built from"],
                          rows)


def setup(app):
    app.add_directive("cluster-servers", ClusterServers)
    return {"parallel_read_safe": True, "version": "1.0"}
