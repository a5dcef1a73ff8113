"""bin/logs-report: the views of the central log database as static HTML pages
with plots, for the admin addresses (the web servers show them under
/_surge/logs/).

Writes OUTPUT/index.html (the plots and the list of views) and OUTPUT/VIEW.html
for every view (its rows, as ``bin/logs VIEW`` prints them). Every page is
written whole and renamed into place, so nginx never serves half a page, and a
failed run leaves the last report as it was.

Log lines carry what clients sent (URLs, user agents): every value reaches the
page escaped (Jinja2's autoescape; matplotlib escapes the SVG's text, and
parsing of TeX math in labels is off).
"""

import argparse
import datetime
import io
import os
import re
import tempfile
import time
from dataclasses import dataclass

import jinja2
import markupsafe

from surge.buildout.logdb import LogDatabase, LogDatabaseError, views_in

SLOWEST_VIEW = "slowest_urls"
# Characters of a URL shown on the slowest URLs plot (the table has them whole).
URL_LABEL = 70
# The virtual host part nginx puts before every path Zope sees: the plot shows the site's path.
VIRTUAL_HOST = re.compile(r"^/VirtualHostBase/[^/]+/[^/]+/[^/]+/VirtualHostRoot(?=/)")


@dataclass(frozen=True)
class HourlyPlot:
    """A line per SERIES value of VIEW's COLUMN, one point per hour."""
    title: str
    view: str
    series: str
    column: str
    ylabel: str


HOURLY_PLOTS = (
    HourlyPlot("Errors per hour and server", "messages_per_server_hour", "host", "errors", "errors"),
    HourlyPlot("Requests per hour and class", "haproxy_requests_per_class_hour", "class", "requests", "requests"),
    HourlyPlot("5xx responses per hour and class", "haproxy_requests_per_class_hour", "class", "responses_5xx",
               "5xx responses"),
    HourlyPlot("Varnish hit ratio per hour and web server", "varnish_hit_ratio_hour", "host", "hit_ratio",
               "hits / (hits + misses)"),
)


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    # Text stays text (searchable, small); a "$" in a URL is a "$", not TeX.
    matplotlib.rcParams.update({"svg.fonttype": "none", "text.parse_math": False, "figure.figsize": (9, 3.2)})
    from matplotlib import pyplot

    return pyplot


def dates():
    from matplotlib import dates

    return dates


def svg(figure):
    """The figure as an <svg> element to put into a page (no XML prologue)."""
    stream = io.StringIO()
    figure.savefig(stream, format="svg", bbox_inches="tight")
    pyplot().close(figure)
    text = stream.getvalue()
    return markupsafe.Markup(text[text.index("<svg"):])


def hourly(plot, rows, hours):
    figure, axes = pyplot().subplots()
    lines = {}
    for row in rows:
        if row[plot.column] == "":
            continue
        lines.setdefault(row[plot.series] or "(none)", []).append(
            (datetime.datetime.fromisoformat(row["hour"]), float(row[plot.column])))
    for name, points in sorted(lines.items()):
        points.sort()
        axes.plot([hour for hour, _ in points], [value for _, value in points], marker="o", label=name)
    if lines:
        axes.legend(loc="upper left", fontsize="small")
    else:
        axes.text(0.5, 0.5, f"no rows in the last {hours} hours", ha="center", transform=axes.transAxes)
    axes.set_title(plot.title)
    axes.set_ylabel(plot.ylabel)
    axes.set_xlabel("hour (UTC)")
    axes.grid(alpha=0.3)
    axes.xaxis.set_major_formatter(dates().DateFormatter("%d %b %H:%M"))
    figure.autofmt_xdate()
    return svg(figure)


def slowest(rows):
    figure, axes = pyplot().subplots(figsize=(9, 0.6 + 0.28 * max(len(rows), 1)))
    rows = list(reversed(rows))  # the slowest at the top
    paths = [VIRTUAL_HOST.sub("", row["url"]) for row in rows]
    labels = [path if len(path) <= URL_LABEL else path[:URL_LABEL - 1] + "…" for path in paths]
    positions = range(len(rows))
    axes.barh(positions, [float(row["max_ms"]) for row in rows], color="#f4a582", label="max")
    axes.barh(positions, [float(row["p95_ms"]) for row in rows], color="#ca0020", label="p95")
    axes.set_yticks(list(positions), labels, fontsize="small")
    if rows:
        axes.legend(loc="lower right", fontsize="small")
    else:
        axes.text(0.5, 0.5, "no requests in the last hour", ha="center", transform=axes.transAxes)
        axes.set_xticks([])
    axes.set_title("Slowest URLs of the last hour (HAProxy's total time)")
    axes.set_xlabel("milliseconds")
    return svg(figure)


def write_whole(path, text):
    """Write PATH through a temporary file in its folder and a rename."""
    folder = os.path.dirname(path)
    handle, staged = tempfile.mkstemp(dir=folder, prefix=".staged-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(staged, 0o644)
        os.replace(staged, path)
    except BaseException:
        os.unlink(staged)
        raise


def report(database, views, template, output, *, hours, rows):
    """Read every view, then write every page; nothing is written when a query fails.

    Each view is read once (the hourly ones parse every log line of their program: seconds each on a
    million lines): an hourly view's page shows the rows of the plotted hours, at most ROWS.
    """
    recent = {view: database.rows(f"SELECT * FROM {view} WHERE hour > now() - interval '{hours} hours'")
              for view in dict.fromkeys(plot.view for plot in HOURLY_PLOTS)}
    tables = {view: recent[view][:rows] if view in recent else database.rows(f"SELECT * FROM {view} LIMIT {rows}")
              for view in views}
    plots = [hourly(plot, recent[plot.view], hours) for plot in HOURLY_PLOTS]
    plots.append(slowest(tables[SLOWEST_VIEW]))
    made = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.dirname(template)),
                                     autoescape=True, undefined=jinja2.StrictUndefined)
    page = environment.get_template(os.path.basename(template))
    os.makedirs(output, exist_ok=True)
    for view, description in views.items():
        write_whole(os.path.join(output, f"{view}.html"),
                    page.render(made=made, views=views, view=view, description=description,
                                rows=tables[view], limit=rows, window=hours if view in recent else None))
    write_whole(os.path.join(output, "index.html"),
                page.render(made=made, views=views, view=None, plots=plots, hours=hours))


def main(*, psql, connection, database, user, secrets_file, secret, schema_file, template, output, hours, rows,
         argv=None):
    parser = argparse.ArgumentParser(
        prog="bin/logs-report",
        description="Write the log database's views as HTML pages with plots (read-only on the database).")
    parser.add_argument("--output", default=output, help=f"the pages' folder (default {output})")
    args = parser.parse_args(argv)
    views = views_in(schema_file)
    missing = [plot.view for plot in HOURLY_PLOTS if plot.view not in views] + \
        ([SLOWEST_VIEW] if SLOWEST_VIEW not in views else [])
    if missing:
        raise SystemExit(f"bin/logs-report: {schema_file} has no view {', '.join(missing)}")
    database = LogDatabase(psql=psql, connection=connection, database=database, user=user,
                           secrets_file=secrets_file, secret=secret)
    started = time.monotonic()
    try:
        report(database, views, template, args.output, hours=int(hours), rows=int(rows))
    except LogDatabaseError as error:
        raise SystemExit(f"bin/logs-report: {error}; the last report is left as it was") from None
    print(f"bin/logs-report: {len(views) + 1} pages in {args.output} in {time.monotonic() - started:.1f} s",
          flush=True)
    return 0
