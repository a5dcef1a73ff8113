"""Check a patroni.yml with Patroni's own validator, minus its look at the network.

Run by the Python Debian's patroni runs on (the build reads it off the
patroni program's first line), not the build's: this file imports nothing
but the standard library and patroni.

``patroni --validate-config`` of Patroni 3.0 also refuses a listen port
that is in use (Patroni's own, while it runs) and an etcd that does not
answer yet (on a server's first build, or while the voters are down): states
of the moment, not errors of the file. Its schema is used here with the one
function that probes the network replaced by one that only parses
HOST:PORT; every other rule is Patroni's.

Usage: PYTHON patroni_check.py PATRONI.YML
"""

import socket
import sys


def main(argv):
    if len(argv) != 1:
        print("usage: patroni_check.py PATRONI.YML", file=sys.stderr)
        return 2
    import yaml
    from patroni import validator
    from patroni.exceptions import ConfigParseError

    def parse_only(host_port, listen=False, multiple_hosts=False):
        try:
            hosts, port = validator.split_host_port(host_port, None)
        except (ValueError, TypeError):
            raise ConfigParseError("contains a wrong value")
        for host in hosts.split(",") if multiple_hosts else [hosts]:
            try:
                socket.getaddrinfo(host, port)
            except (socket.gaierror, TypeError, ValueError) as error:
                raise ConfigParseError(f"{host}: {error}")
        return True

    if not callable(getattr(validator, "validate_host_port", None)):
        print("patroni.validator has no validate_host_port: this checker needs Patroni 3.0", file=sys.stderr)
        return 2
    validator.validate_host_port = parse_only
    with open(argv[0], encoding="utf-8") as stream:
        try:
            config = yaml.safe_load(stream)
        except yaml.YAMLError as error:
            print(f"{argv[0]}: {error}", file=sys.stderr)
            return 1
    if not isinstance(config, dict):
        print(f"{argv[0]}: not a mapping of settings", file=sys.stderr)
        return 1
    errors = validator.schema(config)
    for error in errors:
        print(f"{argv[0]}: {error}", file=sys.stderr)
    if errors:
        return 1
    print(f"{argv[0]}: accepted by Patroni's validator")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
