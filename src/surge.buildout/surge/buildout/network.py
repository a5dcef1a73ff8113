"""Host names and addresses: what the recipes and checks share about the network."""

import ipaddress
import re
import socket

LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){LABEL}(\.{LABEL})*$")


def is_wildcard(host):
    """Every interface, however it is written: '*', 0.0.0.0, '0.0' or '0' (the C library reads them as
    0.0.0.0, and so do the daemons), '::', '[::0]', '0:0:0::0'."""
    return address_of(host) == "*"


def valid_host(value):
    """A host name, an IP address or a wildcard."""
    if value == "*":
        return True
    try:
        ipaddress.ip_address(value.strip("[]"))
        return True
    except ValueError:
        return bool(HOSTNAME.match(value))


def addresses_of(host):
    """Every address HOST resolves to here (an empty set when it does not)."""
    if not valid_host(host) or is_wildcard(host):
        return set()
    try:
        return {info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except OSError:
        return set()


def address_of(host):
    """One address to compare hosts by, so that localhost and 127.0.0.1 collide; '*' for a wildcard
    (compared parsed, not as written)."""
    if host.strip() == "*":
        return "*"
    try:
        address = socket.getaddrinfo(host.strip().strip("[]"), None)[0][4][0]
    except (OSError, UnicodeError):
        return host
    return "*" if ipaddress.ip_address(address.partition("%")[0]).is_unspecified else address


def host_networks(addresses):
    """'ADDRESS/32' (or /128) for each address, sorted."""
    return [f"{a}/128" if ":" in a else f"{a}/32" for a in sorted(addresses)]


def addresses_of_keys(buildout, keys, where_keys):
    """(sorted addresses, problems) of the [hosts] keys KEYS; WHERE_KEYS names the option listing them."""
    found, problems = set(), []
    for key in keys:
        host = buildout["hosts"].get(key, "")
        addresses = addresses_of(host.strip())
        if not addresses:
            problems.append(f"{where_keys}: [hosts] {key} ({host!r}) does not resolve to an address here")
        found |= addresses
    return sorted(found), problems


def split_bind(value):
    """('HOST', 'PORT') of a [listen] entry HOST:PORT; IPv6 brackets dropped."""
    host, _, port = value.strip().rpartition(":")
    return host.strip("[]"), port
