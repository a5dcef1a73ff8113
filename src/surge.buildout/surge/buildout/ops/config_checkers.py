"""Checkers for daemons that have no check mode of their own.

The build runs them as ``{python} -m surge.buildout.ops.config_checkers
NAME ARGS...`` with its own Python, so a check never waits for a script the
same build makes: ``supervisor FILE``, ``pg-hba POSTGRES-BIN USER FILE``,
``postgres-conf POSTGRES-BIN USER FILE``, ``postgres-sql POSTGRES-BIN USER FILE``,
``systemd-unit NAME FILE BUILD-BIN``.
"""

import contextlib
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile


def supervisor(argv=None):
    """supervisor FILE: parse FILE with supervisord's own option parser."""
    from supervisor.options import ServerOptions

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: supervisor SUPERVISORD.CONF", file=sys.stderr)
        return 2
    options = ServerOptions()
    try:
        options.realize(args=["-c", argv[0]])
    except SystemExit as exit:
        # realize() prints its complaint and exits with 2 on a bad file.
        return exit.code or 2
    except ValueError as error:
        print(f"{argv[0]}: {error}", file=sys.stderr)
        return 1
    print(f"{argv[0]}: {len(options.process_group_configs)} program groups")
    return 0


@contextlib.contextmanager
def throwaway_postgres(bin_directory, user, options=""):
    """A PostgreSQL in a temporary folder, on no TCP port, started with OPTIONS: yields (folder, run).

    RUN(*command) runs a PostgreSQL program as USER (when we are root); the
    folder is the server's socket directory. The server is stopped and the
    folder removed afterwards. On a server that does not start, yields
    (None, output of its log).
    """
    folder = tempfile.mkdtemp(prefix="surge-postgres-check-")
    os.chmod(folder, 0o755)
    if os.geteuid() == 0:
        account = pwd.getpwnam(user)
        os.chown(folder, account.pw_uid, account.pw_gid)
    as_user = ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []
    data, log = os.path.join(folder, "data"), os.path.join(folder, "server.log")

    def run(*command):
        return subprocess.run([*as_user, *command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              stdin=subprocess.DEVNULL)

    try:
        made = run(f"{bin_directory}/initdb", "-D", data, "--no-sync", "-A", "trust", "--no-instructions",
                   "-U", user)
        if made.returncode:
            yield None, made.stdout
            return
        options = f"{options} -c listen_addresses='' -c unix_socket_directories={folder} -c fsync=off"
        started = run(f"{bin_directory}/pg_ctl", "start", "-D", data, "-w", "-t", "60", "-l", log, "-o", options)
        if started.returncode:
            with open(log) as stream:
                yield None, stream.read()
            return
        yield folder, run
    finally:
        run(f"{bin_directory}/pg_ctl", "stop", "-D", data, "-m", "immediate")
        shutil.rmtree(folder, ignore_errors=True)


def pg_hba(argv=None):
    """pg-hba POSTGRES-BIN USER FILE: start a throwaway PostgreSQL with FILE as its pg_hba.conf.

    PostgreSQL has no check mode for pg_hba.conf; the postmaster refuses to
    start with a file it cannot load, and reports the rules it skipped in
    pg_hba_file_rules.
    """
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3:
        print("usage: pg-hba POSTGRES-BIN USER PG_HBA.CONF", file=sys.stderr)
        return 2
    bin_directory, user, path = argv
    with throwaway_postgres(bin_directory, user, f"-c hba_file={path}") as (folder, run):
        if folder is None:
            print(run, file=sys.stderr)
            return 1
        rules = run(f"{bin_directory}/psql", "-X", "-A", "-t", "-h", folder, "-d", "postgres", "-c",
                    f"SELECT 'line ' || line_number || ' of configuration file \"{path}\": ' || error "
                    "FROM pg_hba_file_rules WHERE error IS NOT NULL")
        errors = rules.stdout.strip() if rules.returncode == 0 else rules.stdout
        if errors:
            print(errors, file=sys.stderr)
            return 1
    print(f"{path}: accepted by PostgreSQL")
    return 0


def postgres_conf(argv=None):
    """postgres-conf POSTGRES-BIN USER FILE: PostgreSQL reads FILE, included by a configuration of its own.

    The file holds what this build tunes; Patroni's postgresql.conf includes
    it and adds where the data, the sockets and the ports are. postgres -C
    reads it all and refuses a bad value or an unknown setting.
    """
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3:
        print("usage: postgres-conf POSTGRES-BIN USER POSTGRESQL.CONF", file=sys.stderr)
        return 2
    bin_directory, user, path = argv
    folder = tempfile.mkdtemp(prefix="surge-postgres-conf-")
    try:
        os.chmod(folder, 0o755)
        wrapper = os.path.join(folder, "postgresql.conf")
        with open(wrapper, "w") as stream:
            quoted = path.replace("'", "''")
            stream.write(f"include '{quoted}'\ndata_directory = '{folder}'\nhba_file = '{folder}/pg_hba.conf'\n"
                         f"ident_file = '{folder}/pg_ident.conf'\n")
        os.chmod(wrapper, 0o644)
        as_user = ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []
        result = subprocess.run([*as_user, f"{bin_directory}/postgres", f"--config-file={wrapper}", "-C",
                                 "shared_buffers"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    problems = [line for line in result.stdout.splitlines() if "postgresql.auto.conf" not in line]
    if result.returncode:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(f"{path}: accepted by PostgreSQL")
    return 0


def postgres_sql(argv=None):
    """postgres-sql POSTGRES-BIN USER FILE: a throwaway PostgreSQL runs the psql script FILE.

    The provisioning script (roles, databases, each schema file in its own
    transaction) must run whole on an empty cluster before it may run on the
    site's: SQL that does not apply fails the build before anything changes.
    """
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3:
        print("usage: postgres-sql POSTGRES-BIN USER SCRIPT.SQL", file=sys.stderr)
        return 2
    bin_directory, user, path = argv
    with throwaway_postgres(bin_directory, user) as (folder, run):
        if folder is None:
            print(run, file=sys.stderr)
            return 1
        applied = run(f"{bin_directory}/psql", "-X", "-q", "-h", folder, "-d", "postgres", "-f", path)
        if applied.returncode:
            print(applied.stdout, file=sys.stderr)
            return 1
    print(f"{path}: runs whole on an empty PostgreSQL cluster")
    return 0


# systemd-analyze's complaint about an ExecStart= program that is not there.
MISSING_COMMAND = re.compile(r"^\S+: Command (\S+) is not executable: No such file or directory$")


def systemd_unit(argv=None):
    """systemd-unit NAME FILE BUILD-BIN: systemd-analyze verify FILE as the unit NAME.

    A command in BUILD-BIN that does not exist yet passes (this build makes
    it, after the checks); any other complaint fails.
    """
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3:
        print("usage: systemd-unit NAME FILE BUILD-BIN", file=sys.stderr)
        return 2
    name, path, build_bin = argv
    with tempfile.TemporaryDirectory() as directory:
        # systemd takes the unit's name and type from the file's name.
        unit = os.path.join(directory, name)
        shutil.copy(path, unit)
        result = subprocess.run(["systemd-analyze", "verify", "--man=no", unit], capture_output=True, text=True)
    complaints = [line for line in (result.stdout + result.stderr).replace(unit, path).splitlines() if line.strip()]
    later = [line for line in complaints if (match := MISSING_COMMAND.match(line))
             and match[1].startswith(build_bin.rstrip(os.sep) + os.sep)]
    others = [line for line in complaints if line not in later]
    if others or (result.returncode and not later):
        print("\n".join(others) or f"systemd-analyze verify exited {result.returncode}", file=sys.stderr)
        return 1
    print(f"{path}: a valid {name}" + (f" (made later by this build: {', '.join(later)})" if later else ""))
    return 0


CHECKERS = {"supervisor": supervisor, "pg-hba": pg_hba, "postgres-conf": postgres_conf, "postgres-sql": postgres_sql,
            "systemd-unit": systemd_unit}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in CHECKERS:
        print(f"usage: python -m surge.buildout.ops.config_checkers {{{'|'.join(CHECKERS)}}} ARGS...",
              file=sys.stderr)
        sys.exit(2)
    sys.exit(CHECKERS[sys.argv[1]](sys.argv[2:]))
