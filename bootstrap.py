#!/usr/bin/env python3
"""Prepare bin/buildout for this checkout (standard library only).

Steps, each skipped when already done:

1. create a virtual environment in .venv/ with the running Python;
2. install the zc.buildout, setuptools, pip and wheel versions pinned in
   versions.cfg into it;
3. run ``buildout bootstrap`` so that bin/buildout exists.

The top-level file is the one given with -c; without -c it is taken by this
machine's hostname: a production server is named as [hosts] names it in
buildout.d/base.cfg (the whole name or its first label) and builds
prod-KEY.cfg for its key in [topology] servers; any other machine is a
developer's machine (buildout.cfg).

Examples::

    python3 bootstrap.py                     # developer machine: buildout.cfg
    python3 bootstrap.py -c prod-web-1.cfg   # -c always wins
    python3 bootstrap.py --build             # then run bin/buildout -N -c FILE
"""

import argparse
import configparser
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import urllib.request
import venv

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, ".venv")
STAMP = os.path.join(VENV, "surge-bootstrap.json")
BOOTSTRAP_PINS = ("pip", "setuptools", "wheel", "zc.buildout")
MINIMUM_PYTHON = (3, 10)
# PyPI's simple index in its JSON form (PEP 691), which mirrors serve too.
SIMPLE_INDEX = "https://pypi.org/simple/{name}/"

BASE = os.path.join(HERE, "buildout.d", "base.cfg")
DEVELOPMENT = "buildout.cfg"


def servers(base=BASE):
    """{hostname: top-level file} of every server of [topology] servers, by its [hosts] name.

    base.cfg's ${section:key} references are configparser's extended
    interpolation; only [hosts] and [topology] are read, which refer to
    nothing else.
    """
    parser = configparser.ConfigParser(interpolation=configparser.ExtendedInterpolation(), strict=False)
    parser.optionxform = str
    parser.read(base)
    table = {}
    for key in parser["topology"]["servers"].split():
        host = parser["hosts"][key].strip()
        table[host] = table[host.split(".")[0]] = f"prod-{key}.cfg"
    return table


class BootstrapError(Exception):
    """A problem the user can fix; printed without a traceback."""


def say(message):
    print(f"bootstrap: {message}", flush=True)


def config_for_host(hostname, table=None):
    """The top-level file for a hostname: exact name, then its first label."""
    table = servers() if table is None else table
    for name in (hostname, hostname.split(".")[0]):
        if name in table:
            return table[name]
    return DEVELOPMENT


def read_versions(path=os.path.join(HERE, "versions.cfg")):
    """Every pin of versions.cfg, {lower-case name: version}."""
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str.lower
    if not parser.read(path):
        raise BootstrapError(f"{path} is missing; it pins zc.buildout and setuptools")
    if not parser.has_section("versions"):
        raise BootstrapError(f"{path} has no [versions] section")
    versions = dict(parser.items("versions"))
    missing = [name for name in BOOTSTRAP_PINS if not versions.get(name, "").strip()]
    if missing:
        raise BootstrapError(f"{path}: [versions] has no pin for {', '.join(missing)}")
    return versions


def run(command, **kwargs):
    say("running " + " ".join(command))
    result = subprocess.run(command, cwd=HERE, **kwargs)
    if result.returncode:
        raise BootstrapError(f"{command[0]} failed with exit code {result.returncode}")


def venv_python():
    return os.path.join(VENV, "bin", "python")


def have_ensurepip():
    try:
        import ensurepip  # noqa: F401  (Debian ships it in python3-venv)
    except ImportError:
        return False
    return True


def ensure_venv(python_version_key, pip_version):
    """Create .venv unless it exists for this same Python."""
    stamp = read_stamp()
    if os.path.exists(venv_python()) and stamp.get("python") == python_version_key:
        return False
    say(f"creating the virtual environment {VENV}")
    with_ensurepip = have_ensurepip()
    try:
        venv.EnvBuilder(clear=True, with_pip=with_ensurepip).create(VENV)
    except subprocess.CalledProcessError as error:
        raise BootstrapError(f"could not create a virtual environment: {error}")
    if not with_ensurepip:
        install_pip_from_pypi(venv_python(), pip_version)
    return True


def install_pip_from_pypi(python, version):
    """Without ensurepip (Debian without python3-venv): pip runs from its own wheel."""
    say(f"no ensurepip here; fetching pip {version} from PyPI")
    filename = f"pip-{version}-py3-none-any.whl"
    request = urllib.request.Request(
        SIMPLE_INDEX.format(name="pip"), headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            files = json.load(answer)["files"]
        wheel = next(f for f in files if f["filename"] == filename)
        with urllib.request.urlopen(wheel["url"], timeout=120) as answer:
            data = answer.read()
    except (OSError, ValueError, KeyError, StopIteration) as error:
        raise BootstrapError(
            f"could not fetch {filename} from PyPI ({error!r}); "
            "or install Debian's ensurepip: apt-get install python3-venv"
        )
    if hashlib.sha256(data).hexdigest() != wheel["hashes"]["sha256"]:
        raise BootstrapError(f"{wheel['filename']} does not match PyPI's sha256 digest")
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, filename)
        with open(path, "wb") as stream:
            stream.write(data)
        run([python, os.path.join(path, "pip"), "install", "--quiet", path])


def read_stamp():
    try:
        with open(STAMP) as stamp:
            return json.load(stamp)
    except (OSError, ValueError):
        return {}


def write_stamp(data):
    with open(STAMP, "w") as stamp:
        json.dump(data, stamp, indent=2, sort_keys=True)


def install_pins(versions):
    """Install the bootstrap distributions; their dependencies are pinned too."""
    requirements = [f"{name}=={versions[name]}" for name in BOOTSTRAP_PINS]
    constraints = os.path.join(VENV, "constraints.txt")
    with open(constraints, "w") as stream:
        stream.writelines(f"{name}=={version}\n" for name, version in sorted(versions.items()))
    run([venv_python(), "-m", "pip", "install", "--quiet", "-c", constraints, *requirements])


def buildout_script_ok():
    """bin/buildout exists and runs this checkout's virtual environment."""
    script = os.path.join(HERE, "bin", "buildout")
    try:
        with open(script) as handle:
            first_line = handle.readline()
    except OSError:
        return False
    return first_line.startswith("#!" + VENV)


def bootstrap(config, force=False):
    python_key = "%s %d.%d.%d" % ((sys.executable,) + sys.version_info[:3])
    versions = read_versions()
    pins = {name: versions[name] for name in BOOTSTRAP_PINS}
    created = ensure_venv(python_key, pins["pip"])
    wanted = {
        "python": python_key,
        "pins": pins,
        "config": config,
        "config-digest": digest(os.path.join(HERE, config)),
    }
    stamp = read_stamp()
    if created or force or stamp.get("pins") != pins:
        install_pins(versions)
        stamp = {}
    if stamp == wanted and buildout_script_ok():
        say(f"nothing to do: bin/buildout is ready for {config}")
        return
    run([os.path.join(VENV, "bin", "buildout"), "-N", "-c", config, "bootstrap"])
    write_stamp(wanted)


def missing_extends(config, seen=None):
    """'FILE: [buildout] extends names X, which does not exist' for every broken link of CONFIG's chain.

    zc.buildout answers a missing fragment with a traceback; this says which
    file names it, before anything is built.
    """
    seen = set() if seen is None else seen
    problems = []
    path = os.path.join(HERE, config)
    if path in seen:
        return problems
    seen.add(path)
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.read(path)
    for extended in parser.get("buildout", "extends", fallback="").split():
        if "://" in extended:
            continue
        target = os.path.normpath(os.path.join(os.path.dirname(config), extended))
        if not os.path.isfile(os.path.join(HERE, target)):
            problems.append(f"{config}: [buildout] extends names {extended}, which does not exist "
                            f"(the fragments are in buildout.d/)")
        else:
            problems.extend(missing_extends(target, seen))
    return problems


def digest(path):
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "-c",
        dest="config",
        metavar="FILE",
        help="top-level file to build (default: by hostname, the production "
        "server [hosts] names so, else buildout.cfg)",
    )
    parser.add_argument(
        "--build",
        action="store_true",
        help="run bin/buildout -N -c FILE once bin/buildout is ready",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="reinstall the pinned bootstrap distributions even if nothing changed",
    )
    parser.add_argument(
        "--show-servers",
        action="store_true",
        help="print the hostname table ([hosts] and [topology] servers) and exit",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.show_servers:
        for host, config in sorted(servers().items()):
            print(f"{host:24} {config}")
        return 0
    if sys.version_info[:2] < MINIMUM_PYTHON:
        print("bootstrap: Python %d.%d or newer is needed" % MINIMUM_PYTHON, file=sys.stderr)
        return 2
    config = args.config or config_for_host(socket.gethostname())
    if not os.path.exists(os.path.join(HERE, config)):
        print(f"bootstrap: {config} does not exist in {HERE}", file=sys.stderr)
        return 2
    if not args.config:
        say(f"using {config} for host {socket.gethostname()}")
    broken = missing_extends(config)
    if broken:
        print("bootstrap: " + "\n           ".join(broken), file=sys.stderr)
        return 2
    try:
        bootstrap(config, force=args.force)
        if args.build:
            run([os.path.join(HERE, "bin", "buildout"), "-N", "-c", config])
    except BootstrapError as error:
        print(f"bootstrap: {error}", file=sys.stderr)
        return 1
    if not args.build:
        say(f"next: bin/buildout -c {config}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
