"""bin/loadtest: the site's visitors in Locust, headless, with a report.

Without -u/--users it runs the spike (surge.loadtest.shape: lull, spike,
lull) and stops by itself; with -u, -r and -t a constant load. Settings come
from etc/loadtest.conf (the development buildout's [loadtest-settings]); any
Locust option on the command line wins. Each run writes into its own
directory under var/loadtest: Locust's CSV files and HTML report and every
request (requests.csv); the end of the output gives figures per class.
Distributed: ``bin/loadtest --master --expect-workers N`` here and
``bin/loadtest --worker --master-host HOST`` on each load machine
(docs/load-testing.rst).
"""

# Locust's gevent patches the standard library when it is imported: before
# anything imports ssl (requests does), or ssl breaks.
import locust  # noqa: F401, I001

import os
import sys
import time

from surge.loadtest import content, report, samples, settings

HERE = os.path.dirname(__file__)
LOCUSTFILE = os.path.join(HERE, "locustfile.py")
SHAPE = os.path.join(HERE, "shape.py")
CONSTANT = {"-u", "--users"}


def has_option(argv, names):
    return any(arg in names or arg.split("=", 1)[0] in names for arg in argv)


def locust_argv(argv, config, run_directory, accounts, repository):
    """Locust's command line: our defaults first, so that ARGV overrides them."""
    constant = has_option(argv, CONSTANT)
    files = LOCUSTFILE if constant else f"{LOCUSTFILE},{SHAPE}"
    worker = has_option(argv, {"--worker"})
    # One word with its option: a random password may begin with "-", which argparse would take for an option.
    defaults = ["-f", files, "--config", config, f"--account-password={content.account_password(accounts)}"]
    if not has_option(argv, {"--sites", "-l", "--list", "-h", "--help"}):
        for key, value in settings.cluster_defaults(settings.read_config(config), repository).items():
            defaults += [f"--{key.replace('_', '-')}", value]
    if not worker and not has_option(argv, {"-l", "--list", "-h", "--help"}):
        defaults += ["--headless", "--csv", os.path.join(run_directory, "locust"), "--csv-full-history",
                     "--html", os.path.join(run_directory, "report.html"),
                     "--samples", os.path.join(run_directory, "requests.csv")]
    elif worker:
        # Workers keep their own samples (only the master makes the content: locustfile.configure).
        defaults += ["--samples", os.path.join(run_directory, "requests.csv")]
    return ["locust", *defaults, *argv]


def run_locust(argv):
    """Locust's main with ARGV; its exit code."""
    from locust.main import main as locust_main

    sys.argv = argv
    try:
        locust_main()
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    return 0


def main(config, output, repository, argv=None):
    argv = sys.argv[1:] if argv is None else argv
    run_directory = os.path.join(output, time.strftime("%Y%m%d-%H%M%S"))
    code = run_locust(locust_argv(argv, config, run_directory, os.path.join(output, "accounts.cfg"), repository))
    requests = os.path.join(run_directory, "requests.csv")
    if os.path.exists(os.path.join(run_directory, "report.html")):
        rows = samples.read(requests) if os.path.exists(requests) else []
        # A distributed master makes no request: each worker keeps its own.
        figures = ["loadtest: figures per class", *report.table(rows)] if rows else [
            "loadtest: the requests are in each worker's var/loadtest/.../requests.csv"]
        print("\n".join(["", *figures, f"loadtest: report {os.path.join(run_directory, 'report.html')}"]),
              flush=True)
    return code
