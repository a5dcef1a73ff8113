"""Which server runs where in the one-machine cluster."""

from dataclasses import dataclass

HTTPS_PORT = 8443
HTTP_PORT = 8080


@dataclass(frozen=True)
class Server:
    name: str
    config: str
    address: str
    web: bool


SERVERS = (
    Server("web-1", "prod-web-1.cfg", "127.0.1.11", web=True),
    Server("web-2", "prod-web-2.cfg", "127.0.1.12", web=True),
    Server("app-master", "prod-app-master.cfg", "127.0.1.21", web=False),
    Server("app-slave", "prod-app-slave.cfg", "127.0.1.22", web=False),
)


def select(names):
    """The servers named (all when none is), or SystemExit naming the unknown."""
    if not names:
        return list(SERVERS)
    known = {server.name: server for server in SERVERS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"cluster: no server {', '.join(unknown)}; the servers are {', '.join(known)}")
    return [known[name] for name in names]
