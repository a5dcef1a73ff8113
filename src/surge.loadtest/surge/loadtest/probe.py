"""The author probe: one author editing, measured by a process of its own.

Locust runs all its visitors in one event loop; when the load generator is
itself short of CPU in a spike, its own measurements of the authors grow with
it. The probe is a separate process that logs in as its own author (content
PROBE_AUTHOR) and asks for its page's edit form one request after another,
with a pause between them, for the whole run; every request is a row of the
samples format (class "probe"). Its first requests after the login warm the
instance's cache up and are left out (--warm-up).

    python -m surge.loadtest.probe --site URL --ca-file CA --password P --seconds S --output FILE
"""

import argparse
import csv
import time

import requests

from surge.loadtest import content, samples

CLASS = "probe"


def log_in(session, site, password, ca_file):
    response = session.post(f"{site}/login", data=content.login_form(content.PROBE_AUTHOR, password),
                            headers={"Content-Type": "application/x-www-form-urlencoded"},
                            allow_redirects=False, verify=ca_file or True, timeout=60)
    if "__ac" not in session.cookies:
        raise SystemExit(f"probe: {content.PROBE_AUTHOR} could not log in at {site} ({response.status_code})")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="probe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", required=True)
    parser.add_argument("--ca-file", default="")
    parser.add_argument("--password", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--pause", type=float, default=0.25, help="seconds between two requests")
    parser.add_argument("--warm-up", type=int, default=10, help="first requests left out")
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    site = args.site.rstrip("/")
    session = requests.Session()
    log_in(session, site, args.password, args.ca_file)
    url = f"{site}{content.desk_page(content.PROBE_AUTHOR)}/edit"
    deadline = time.monotonic() + args.seconds
    with open(args.output, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(samples.HEADER)
        number = 0
        while time.monotonic() < deadline:
            started, began = time.time(), time.monotonic()
            try:
                response = session.get(url, verify=args.ca_file or True, timeout=60, allow_redirects=False)
                failed = response.status_code != 200 or "_authenticator" not in response.text
            except requests.RequestException:
                failed = True
            milliseconds = (time.monotonic() - began) * 1000
            number += 1
            if number > args.warm_up:
                writer.writerow((f"{started:.3f}", CLASS, f"{CLASS}: edit form", f"{milliseconds:.1f}", int(failed)))
                stream.flush()
            time.sleep(args.pause)


if __name__ == "__main__":
    main()
