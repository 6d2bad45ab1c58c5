"""Markdown to HTML for Formgrader and nbgrader's feedback, with nothing active left.

nbgrader 0.9.6's Formgrader renders a submission with nbconvert's ``HTMLExporter`` and its own
``formgrade`` template, whose markdown cells go through the ``markdown2html`` filter *without*
nbconvert's ``clean_html`` (``HTMLExporter.sanitize_html`` does not reach them). The course's
``nbgrader_config.py`` therefore replaces that filter with :func:`markdown2html`, which renders
the markdown as usual and then keeps only an allow-list of tags and attributes: raw HTML in an
answer (``<script>``, ``<iframe>``, ``<svg onload>``, ``<style>``, ...) is shown as text, and
links and images keep only ``http``, ``https`` and ``mailto`` URLs (a ``javascript:`` link,
from HTML or from markdown, loses its target).

This guards every notebook Formgrader shows, including copies made by stock
``nbgrader autograde``; the batch grader's own copies already show written answers as text
(:func:`autograder.outputs.gradebook.inert_markdown`).

The same template also prints the student's id and name unescaped; :class:`EscapeStudentNames`,
an exporter preprocessor, HTML-escapes them first.
"""
from __future__ import annotations

import bleach
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbconvert.preprocessors import Preprocessor

from autograder.outputs.safe import clean_unicode, html_text

TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub",
    "sup", "table", "tbody", "td", "th", "thead", "tr", "ul"})
"""What rendered markdown needs; nothing that runs code, loads a frame or restyles the page."""

ATTRIBUTES = {"a": ["href", "title"], "img": ["src", "alt", "title"], "th": ["align"],
              "td": ["align"], "*": ["class"]}
"""No ``id`` (an id could shadow Formgrader's own page elements), no ``style``, no handlers."""

PROTOCOLS = frozenset({"http", "https", "mailto"})

_CLEANER = bleach.Cleaner(tags=TAGS, attributes=ATTRIBUTES, protocols=PROTOCOLS, strip=False,
                          strip_comments=True)


def markdown2html(source: str) -> str:
    """HTML of the markdown ``source`` with every tag, attribute and URL outside the allow-lists
    escaped or removed (see the module docstring). Lone surrogates become U+FFFD."""
    return _CLEANER.clean(markdown2html_mistune(clean_unicode(source)))


class EscapeStudentNames(Preprocessor):
    """Exporter preprocessor: HTML-escape the student-controlled strings that Formgrader passes
    to its template in ``resources`` (student id, first and last name, notebook path), which
    the template prints without escaping. Plain ids are unchanged."""

    KEYS = ("student", "first_name", "last_name", "notebook_path")

    def preprocess(self, nb, resources):
        for key in self.KEYS:
            if isinstance(resources.get(key), str):
                resources[key] = html_text(resources[key], newlines=False)
        return nb, resources
