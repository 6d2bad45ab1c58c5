"""Student-controlled text made inert for every place the grader shows it, and atomic writes.

Student ids (folder names), grade_ids found in a notebook, notebook names, written answers and
the messages of exceptions raised by student code all end up in the grader's outputs. Each
output gets the escaping of its medium, always on top of :func:`inert`:

- terminal (the ``fnn-grade`` summary): :func:`inert`, so that no escape sequence, carriage
  return, bidi override or other control/format character reaches the terminal;
- HTML (feedback pages): :func:`html_text`;
- CSV: :func:`csv_cell` (also stops spreadsheet formulas);
- JSON for Gradescope: :func:`inert` (the fields are declared plain text there).

Invalid Unicode (a lone surrogate such as ``"\\ud800"``, which JSON can carry and a strict UTF-8
encoder refuses) becomes U+FFFD, so no output can fail to encode. Files are written by
:func:`atomic_write`: a temporary file in the same folder, then a rename, so an error never leaves
a truncated file behind.
"""
from __future__ import annotations

import html
import os
import re
import threading
import unicodedata
from pathlib import Path

REPLACEMENT = "\ufffd"
_SURROGATES = re.compile("[\ud800-\udfff]")

_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

FORMULA_STARTS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
"""First characters that make a spreadsheet read a cell as a formula (ASCII and full-width)."""

_HTML_SPECIAL = set("<>&\"'`")


def clean_unicode(text) -> str:
    """``str(text)`` with every lone surrogate replaced by U+FFFD (encodable as UTF-8)."""
    return _SURROGATES.sub(REPLACEMENT, str(text))


def _escape(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def inert(text, newlines: bool = False) -> str:
    """``text`` as a string that shows, and never performs, what is in it.

    Control and format characters (ESC, CR, BEL, U+202E and the other bidi controls, zero-width
    characters, line separators, ...) are replaced by visible escapes such as ``\\x1b`` or
    ``\\u202e``; lone surrogates are shown as ``\\ud800``. With ``newlines=True`` a line feed is
    kept (for multi-line messages shown where a newline is harmless: HTML, Gradescope text).

    Parameters
    ----------
    text : any object; ``str(text)`` is used.
    newlines : keep ``"\\n"`` as is.

    Returns
    -------
    str, printable apart from the kept line feeds.
    """
    text = str(text)
    if text.isprintable() and (not newlines or "\n" not in text):
        return text  # the common case: nothing to do
    out = []
    for char in text:
        if char == "\n" and newlines:
            out.append(char)
        elif char.isprintable():
            out.append(char)
        elif unicodedata.category(char) == "Zs":  # a non-ASCII space: shown as a space
            out.append(" ")
        else:  # control, format, surrogate, private-use, unassigned, line separators
            out.append(_escape(char))
    return "".join(out)


def html_text(text, newlines: bool = True) -> str:
    """``text`` for an HTML element or attribute: :func:`inert`, then HTML-escaped (quotes too)."""
    return html.escape(inert(text, newlines=newlines), quote=True)


def csv_cell(text) -> str:
    """``text`` for a CSV cell: :func:`inert`, and a leading ``'`` when a spreadsheet would read
    it as a formula (first non-blank character ``=``, ``+``, ``-`` or ``@``)."""
    text = inert(text)
    if text.lstrip().startswith(FORMULA_STARTS):
        return "'" + text
    return text


def is_plain_id(text) -> bool:
    """True when ``text`` can be shown anywhere without escaping: non-empty, printable, no line
    breaks or HTML-special characters (``< > & " ' ```) and no lone surrogates.

    nbgrader's Formgrader puts student ids into its pages unescaped, so only such ids may go
    into the gradebook.
    """
    text = str(text)
    return bool(text) and text.isprintable() and not _HTML_SPECIAL & set(text)


def atomic_write(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same folder.

    The file appears complete or not at all: any error (a character that cannot be encoded, a
    full disk, ...) removes the temporary file and leaves an existing ``path`` unchanged. The
    folder is created if needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    return path
