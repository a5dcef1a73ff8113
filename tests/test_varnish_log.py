"""The cache hits' summary (surge.buildout.ops.varnish_log): one line per URL and status, with the count."""

import io
import os

from surge.buildout.ops import varnish_log


def summary(data, clock):
    read, write = os.pipe()
    os.write(write, data)
    os.close(write)
    out = io.StringIO()
    with os.fdopen(read, "rb") as stream:
        varnish_log.summarize(stream, out, 60, clock=clock)
    return out.getvalue().splitlines()


def test_hits_are_counted_per_url_and_status_for_the_period():
    lines = summary(b"200 /news\n200 /news\n404 /x\n200 /news?a=1\n200 /news\n", clock=lambda: 130.0)
    assert lines == [
        "1970-01-01T00:02:00+0000 handling=hit status=200 count=3 url=/news",
        "1970-01-01T00:02:00+0000 handling=hit status=200 count=1 url=/news?a=1",
        "1970-01-01T00:02:00+0000 handling=hit status=404 count=1 url=/x",
    ]


def test_a_period_that_ends_is_written_and_the_next_starts_empty():
    # The clock: the first period starts at 0; it is over (60) before the lines are read.
    times = iter([0.0, 60.0, 60.0, 61.0, 61.0])
    lines = summary(b"200 /a\n", clock=lambda: next(times))
    assert lines == ["1970-01-01T00:01:00+0000 handling=hit status=200 count=1 url=/a"]


def test_a_line_cut_by_the_end_of_the_stream_is_not_counted():
    assert summary(b"200 /a\n200 /b", clock=lambda: 0.0) == [
        "1970-01-01T00:00:00+0000 handling=hit status=200 count=1 url=/a"]
