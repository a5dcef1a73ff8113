"""Every request of a run, one CSV line each, for figures per class and phase.

Locust's own CSV gives figures per request name and per second for all
requests together; the benchmarks need percentiles per visitor class and per
phase of the spike, so each request is written here: time (seconds since the
epoch), class, name, response time (ms), failed (0/1).
"""

import csv
import os
import time

HEADER = ("time", "class", "name", "milliseconds", "failed")


def record(environment, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    stream = open(path, "w", newline="")
    writer = csv.writer(stream)
    writer.writerow(HEADER)

    def on_request(request_type, name, response_time, response_length, exception=None, start_time=None, **kwargs):
        writer.writerow((f"{start_time:.3f}", name.split(":", 1)[0], name, f"{response_time:.1f}",
                         int(exception is not None)))

    def on_test_start(**kwargs):
        # The shape's clock starts here: phases are measured from this time.
        with open(start_file(path), "w") as marker:
            marker.write(f"{time.time():.3f}\n")

    environment.events.request.add_listener(on_request)
    environment.events.test_start.add_listener(on_test_start)
    environment.events.quitting.add_listener(lambda **kwargs: stream.close())


def start_file(path):
    return path + ".start"


def started(path):
    """When the run of the samples file PATH started (seconds since the epoch), or None."""
    try:
        with open(start_file(path)) as stream:
            return float(stream.read())
    except (OSError, ValueError):
        return None


def read(path):
    """[(time, class, name, milliseconds, failed)] of a samples file."""
    with open(path, newline="") as stream:
        rows = csv.reader(stream)
        next(rows)
        return [(float(t), kind, name, float(ms), failed == "1") for t, kind, name, ms, failed in rows]
