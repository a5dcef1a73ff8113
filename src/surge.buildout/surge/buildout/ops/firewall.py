"""bin/firewall: load this server's host firewall (etc/nftables.conf) into the kernel.

The ruleset replaces its own table (inet surge) and nothing else, in one
transaction: a refused file changes nothing. Run it as root after a build
that changed etc/nftables.conf; --check only checks, --show prints what is
loaded.
"""

import argparse
import subprocess
import sys


def main(*, nft, ruleset, argv=None):
    parser = argparse.ArgumentParser(prog="bin/firewall", description=__doc__.split("\n\n")[0])
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--check", action="store_true", help="check the ruleset, load nothing")
    what.add_argument("--show", action="store_true", help="print the surge table the kernel has")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.show:
        command = [nft, "list", "table", "inet", "surge"]
    else:
        command = [nft, *(["-c"] if args.check else []), "-f", ruleset]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(result.stdout, end="")
    if result.returncode:
        raise SystemExit(f"firewall: {' '.join(command)} failed (exit {result.returncode}); nothing changed")
    if not args.show:
        print(f"firewall: {ruleset} {'checked' if args.check else 'loaded'}")
    return 0
