"""Checkers for daemons that have no check mode of their own (installed as bin/ scripts)."""

import sys


def supervisor(argv=None):
    """bin/supervisor-check FILE: parse FILE with supervisord's own option parser."""
    from supervisor.options import ServerOptions

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: supervisor-check SUPERVISORD.CONF", file=sys.stderr)
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
