"""One list-table for every generated table of the docs (settings, ports, environments, views, tests)."""

from docutils import nodes
from docutils.statemachine import StringList


def list_table(directive, source, widths, header, rows):
    """HEADER and ROWS (lists of reStructuredText cells; a cell may have several lines) as a list-table,
    parsed into DIRECTIVE's document: the nodes the directive returns."""
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {' '.join(str(width) for width in widths)}", ""]
    for row in (header, *rows):
        for number, cell in enumerate(row):
            first, *more = str(cell).split("\n")
            lines += [f"   {'*' if number == 0 else ' '} - {first}", *(f"       {line}" for line in more)]
    node = nodes.container()
    directive.state.nested_parse(StringList(lines, source=source), directive.content_offset, node)
    return node.children
