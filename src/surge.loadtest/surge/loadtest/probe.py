"""The author probe: one author editing, measured by a process of its own.

Locust runs all its visitors in one event loop; when the load generator is
itself short of CPU in a spike, its own measurements of the authors grow with
it. The probe is a separate process that logs in as its own author (content
PROBE_AUTHOR) and asks for its page's edit form one request after another,
with a pause between them, for the whole run (--clients such loops at
once); with --login-every, its member (PROBE_MEMBER) also logs in again
and again, each time as a new visitor; every request is a row of the
samples format (class "probe"). Its first requests after the login warm the
instance's cache up and are left out (--warm-up).

    python -m surge.loadtest.probe --site URL --ca-file CA --password P --seconds S --output FILE
"""

import argparse
import csv
import threading
import time

import requests

from surge.loadtest import content, samples

CLASS = "probe"
EDIT_FORM = f"{CLASS}: edit form"
LOGIN = f"{CLASS}: log in"


def log_in(session, site, password, ca_file):
    response = session.post(f"{site}/login", data=content.login_form(content.PROBE_AUTHOR, password),
                            headers={"Content-Type": "application/x-www-form-urlencoded"},
                            allow_redirects=False, verify=ca_file or True, timeout=60)
    if "__ac" not in session.cookies:
        raise SystemExit(f"probe: {content.PROBE_AUTHOR} could not log in at {site} ({response.status_code})")


def edit_forms(site, ca_file, cookies, deadline, pause, warm_up, rows, lock):
    """One author's requests for its edit form until DEADLINE, appended to ROWS (the first WARM_UP left out)."""
    session = requests.Session()
    session.cookies.update(cookies)
    url = f"{site}{content.desk_page(content.PROBE_AUTHOR)}/edit"
    number = 0
    while time.monotonic() < deadline:
        started, began = time.time(), time.monotonic()
        try:
            response = session.get(url, verify=ca_file or True, timeout=60, allow_redirects=False)
            failed = response.status_code != 200 or "_authenticator" not in response.text
        except requests.RequestException:
            failed = True
        milliseconds = (time.monotonic() - began) * 1000
        number += 1
        if number > warm_up:
            with lock:
                rows.writerow((f"{started:.3f}", CLASS, EDIT_FORM, f"{milliseconds:.1f}", int(failed)))
                rows.flush()
        time.sleep(pause)


def logins(site, ca_file, password, deadline, every, rows, lock):
    """A member logging in every EVERY seconds until DEADLINE, each time as a new visitor (a new session and
    TLS connection), appended to ROWS."""
    while time.monotonic() < deadline:
        started, began = time.time(), time.monotonic()
        session = requests.Session()
        try:
            response = session.post(f"{site}/login", data=content.login_form(content.PROBE_MEMBER, password),
                                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                                    allow_redirects=False, verify=ca_file or True, timeout=60)
            failed = response.status_code not in (200, 302) or "__ac" not in session.cookies
        except requests.RequestException:
            failed = True
        finally:
            session.close()
        with lock:
            rows.writerow((f"{started:.3f}", CLASS, LOGIN, f"{(time.monotonic() - began) * 1000:.1f}", int(failed)))
            rows.flush()
        time.sleep(every)


class Rows:
    """The samples file, written by every client."""

    def __init__(self, stream):
        self.stream, self.writer = stream, csv.writer(stream)
        self.writer.writerow(samples.HEADER)

    def writerow(self, row):
        self.writer.writerow(row)

    def flush(self):
        self.stream.flush()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="probe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", required=True)
    parser.add_argument("--ca-file", default="")
    parser.add_argument("--password", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--clients", type=int, default=1, help="the author's requests at once")
    parser.add_argument("--pause", type=float, default=0.25, help="seconds between two requests of a client")
    parser.add_argument("--warm-up", type=int, default=10, help="first requests of each client left out")
    parser.add_argument("--login-every", type=float, default=0,
                        help="also log in as the probe's member every this many seconds (0: never)")
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    site = args.site.rstrip("/")
    session = requests.Session()
    log_in(session, site, args.password, args.ca_file)
    deadline = time.monotonic() + args.seconds
    lock = threading.Lock()
    with open(args.output, "w", newline="") as stream:
        rows = Rows(stream)
        clients = [threading.Thread(target=edit_forms, args=(site, args.ca_file, session.cookies, deadline,
                                                             args.pause, args.warm_up, rows, lock), daemon=True)
                   for _ in range(args.clients)]
        if args.login_every:
            clients.append(threading.Thread(target=logins, args=(site, args.ca_file, args.password, deadline,
                                                                 args.login_every, rows, lock), daemon=True))
        for client in clients:
            client.start()
        for client in clients:
            client.join()


if __name__ == "__main__":
    main()
