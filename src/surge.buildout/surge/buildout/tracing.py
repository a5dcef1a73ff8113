"""From a checker's complaint back to the settings behind it.

A checker names a line of the rendered file ("... in /etc/.nginx.conf.x1:57").
The template is rendered a second time with a marker at the start of every
template line it emits text from (a Jinja2 extension rewriting the template's
text tokens), so each rendered line knows the template line it starts on;
that line's ``settings['KEY']`` and ``options['KEY']`` are the keys to name.
"""

import re

import jinja2
import jinja2.ext
from jinja2.lexer import Token

MARK = "\x1e{}\x1f"
MARKED = re.compile("\x1e(\\d+)\x1f")
USES = re.compile(r"""\b(settings|options)(?:\[['"]([\w.-]+)['"]\]|\.([\w]+))""")
# "FILE:57", "FILE' Line 57", "FILE", line 57", "FILE, on or before line 57", "[FILE:57]".
# PostgreSQL: 'line 5 of configuration file "FILE"'.
LINE_BEFORE_FILE = re.compile(r"line (\d+) of configuration file \"$")
LINE_AFTER_FILE = re.compile(r"""^['"\]]?(?::|,?\s*(?:on or before\s+)?line\s+|['"]?\s+Line\s+)(\d+)""", re.I)


class LineMarks(jinja2.ext.Extension):
    """Marks where each template line starts in the output."""

    def filter_stream(self, stream):
        first = True
        for token in stream:
            if token.type == "data":
                value, line = token.value, token.lineno
                parts = value.split("\n")
                marked = [MARK.format(line) + parts[0] if first else parts[0]]
                marked += [MARK.format(line + index) + part for index, part in enumerate(parts[1:], 1)]
                yield Token(token.lineno, "data", "\n".join(marked))
            else:
                yield token
            first = False


def line_numbers(output, path):
    """The line numbers a checker's OUTPUT gives for PATH, in order, without repeats."""
    found = []
    for match in re.finditer(re.escape(path), output):
        number = LINE_AFTER_FILE.match(output[match.end():match.end() + 40])
        before = LINE_BEFORE_FILE.search(output[max(match.start() - 60, 0):match.start()])
        for hit in (number, before):
            if hit and int(hit.group(1)) not in found:
                found.append(int(hit.group(1)))
    return found


def template_lines(environment_options, source, context):
    """For each line of the render of SOURCE: the template line it starts on (None when unknown)."""
    environment = jinja2.Environment(extensions=[LineMarks], **environment_options)
    try:
        marked = environment.from_string(source).render(context)
    except jinja2.TemplateError:
        return []
    lines = []
    for text in marked.split("\n"):
        marks = MARKED.findall(text)
        lines.append(int(marks[0]) if marks else (lines[-1] if lines else None))
    return lines


def uses(template_line):
    """[(where, key)] a template line reads: ('settings', KEY) or ('options', KEY)."""
    return [(kind, key or attribute) for kind, key, attribute in USES.findall(template_line)]
