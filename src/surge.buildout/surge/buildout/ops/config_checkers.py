"""Checkers for daemons that have no check mode of their own.

The build runs them as ``{python} -m surge.buildout.ops.config_checkers
NAME ARGS...`` with its own Python, so a check never waits for a script the
same build makes: ``supervisor FILE``, ``pg-hba POSTGRES-BIN USER FILE``.
"""

import sys


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


def pg_hba(argv=None):
    """pg-hba POSTGRES-BIN USER FILE: start a throwaway PostgreSQL with FILE as its pg_hba.conf.

    PostgreSQL has no check mode for pg_hba.conf; the postmaster refuses to
    start with a file it cannot load, and reports the rules it skipped in
    pg_hba_file_rules. The throwaway cluster lives in a temporary folder,
    listens on no TCP port and is removed again.
    """
    import os
    import pwd
    import shutil
    import subprocess
    import tempfile

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3:
        print("usage: pg-hba POSTGRES-BIN USER PG_HBA.CONF", file=sys.stderr)
        return 2
    bin_directory, user, path = argv
    folder = tempfile.mkdtemp(prefix="surge-hba-check-")
    if os.geteuid() == 0:
        account = pwd.getpwnam(user)
        os.chown(folder, account.pw_uid, account.pw_gid)
    as_user = ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []
    data, log = os.path.join(folder, "data"), os.path.join(folder, "server.log")

    def run(*command):
        return subprocess.run([*as_user, *command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              stdin=subprocess.DEVNULL)

    try:
        made = run(f"{bin_directory}/initdb", "-D", data, "--no-sync", "-A", "trust", "--no-instructions")
        if made.returncode:
            print(made.stdout, file=sys.stderr)
            return 1
        options = f"-c hba_file={path} -c listen_addresses='' -c unix_socket_directories={folder}"
        started = run(f"{bin_directory}/pg_ctl", "start", "-D", data, "-w", "-t", "60", "-l", log, "-o", options)
        if started.returncode:
            with open(log) as stream:
                print(stream.read(), file=sys.stderr)
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
    finally:
        run(f"{bin_directory}/pg_ctl", "stop", "-D", data, "-m", "immediate")
        shutil.rmtree(folder, ignore_errors=True)


CHECKERS = {"supervisor": supervisor, "pg-hba": pg_hba}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in CHECKERS:
        print(f"usage: python -m surge.buildout.ops.config_checkers {{{'|'.join(CHECKERS)}}} ARGS...",
              file=sys.stderr)
        sys.exit(2)
    sys.exit(CHECKERS[sys.argv[1]](sys.argv[2:]))
