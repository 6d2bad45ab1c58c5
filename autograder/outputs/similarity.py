"""Similarity of the solution cells of a class, for the class report
(:mod:`autograder.outputs.report`): pairs of submissions that share unusually much code of
their own, shown side by side for a person to judge (never a penalty).

Each solution cell is normalised with the ``ast`` module (docstrings, comments and
formatting dropped; every name the cell binds renamed ``v0, v1, ...`` in order of first
appearance, except the graded functions' names) and cut into token 5-grams. The starter code
(the source cell outside ``### BEGIN SOLUTION`` / ``### END SOLUTION``, the release stub and the
released notebook's cells) is removed, and so are the 5-grams that many students share
(:data:`COMMON_FRACTION`): what is left is what makes a submission its own. A pair scores the
share of its code (a Jaccard index) that is uncommon and shared by the two
(:func:`similar_pairs`); it is listed when the score is an outlier of the class's pair scores
(median + :data:`SPREAD` x 1.4826 MAD), at least :data:`MIN_SCORE`, and the two share at least
:data:`MIN_SHARED` uncommon 5-grams, so that short, obvious solutions never fill the list.
"""
from __future__ import annotations

import ast
import builtins
import json
import os
import re
from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np

NGRAM = 5
"""Tokens per n-gram of the similarity score."""
COMMON_FRACTION = 0.1
"""An n-gram held by more than this fraction of the class (and by more than 2 students) is
common knowledge, not evidence of copying."""
MIN_SCORE = 0.2
"""Absolute floor of the similarity score of a listed pair: a fifth of the pair's code is
uncommon and shared."""
SPREAD = 5.0
"""A listed pair scores above the class median by this many robust standard deviations."""
MIN_SHARED = 12
"""A listed pair shares at least this many uncommon n-grams."""
MAX_PARSE_CHARS = 32_000
"""Longer cells are not parsed (bounded parent memory); their first characters are tokenised."""
MAX_TOKENS = 20_000
"""Tokens per cell used for the similarity score."""
_TOKEN = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|\S")
_COMMENT = re.compile(r"#[^\n]*")
_BUILTINS = frozenset(dir(builtins))
_MARKERS = re.compile(r"[ \t]*### BEGIN SOLUTION.*?### END SOLUTION[^\n]*", re.DOTALL)



def _bound_names(nodes: list[ast.AST]) -> list[str]:
    """Names bound by ``nodes`` (assignments, arguments, definitions, imports), in source
    order."""
    found = []
    for node in nodes:
        name = None
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            name = node.id
        elif isinstance(node, ast.arg):
            name = node.arg
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = node.name
        elif isinstance(node, ast.alias):
            name = (node.asname or node.name).split(".")[0]
        elif isinstance(node, ast.ExceptHandler) and node.name:
            name = node.name
        if name is not None:
            found.append((getattr(node, "lineno", 0), getattr(node, "col_offset", 0), name))
    seen, ordered = set(), []
    for _, _, name in sorted(found):
        if name not in seen:
            seen.add(name)
            ordered.append(name)
    return ordered


def _is_stub_or_docstring(node: ast.stmt) -> bool:
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return isinstance(node.value.value, str)
    if isinstance(node, ast.Raise) and node.exc is not None:
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def normalised_tokens(code: str, keep: frozenset = frozenset()) -> list[str]:
    """Tokens of ``code`` with comments, docstrings, formatting and naming taken out.

    Every name the code binds (variables, arguments, helper functions, loop targets, import
    aliases) except those in ``keep`` and the builtins becomes ``v0, v1, ...`` in order of first
    appearance; bare string statements (docstrings) and ``raise NotImplementedError(...)`` (the
    release stub) are dropped. Untrusted input: code longer than :data:`MAX_PARSE_CHARS` or that
    does not parse (SyntaxError, or RecursionError / MemoryError on pathological nesting) is
    tokenised as text with ``#`` comments removed, without renaming.

    Returns
    -------
    list of str, at most :data:`MAX_TOKENS` tokens.
    """
    text = str(code)
    try:
        if len(text) > MAX_PARSE_CHARS:
            raise ValueError("too long to parse")
        tree = ast.parse(text)
        nodes = list(ast.walk(tree))
        for node in nodes:
            body = getattr(node, "body", None)
            if type(body) is list and body and isinstance(body[0], ast.stmt):
                node.body = [s for s in body if not _is_stub_or_docstring(s)] or [ast.Pass()]
        names = [n for n in _bound_names(nodes) if n not in keep and n not in _BUILTINS]
        canonical = {name: f"v{i}" for i, name in enumerate(names)}
        for node in nodes:
            if isinstance(node, ast.Name) and node.id in canonical:
                node.id = canonical[node.id]
            elif isinstance(node, ast.arg) and node.arg in canonical:
                node.arg = canonical[node.arg]
            elif (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and node.name in canonical):
                node.name = canonical[node.name]
            elif isinstance(node, ast.alias) and (node.asname or node.name) in canonical:
                node.asname = canonical[node.asname or node.name]
        text = ast.unparse(tree)
    except (SyntaxError, ValueError, RecursionError, MemoryError, TypeError, SystemError):
        text = _COMMENT.sub("", text[:MAX_PARSE_CHARS])
    return _TOKEN.findall(text)[:MAX_TOKENS]


def ngrams(tokens: list[str], tag: str = "", n: int = NGRAM) -> set:
    """The set of hashed ``n``-token windows of ``tokens`` (one window if there are fewer),
    each tagged with ``tag`` (the cell's grade_id, so that cells never match each other)."""
    if not tokens:
        return set()
    if len(tokens) < n:
        return {hash((tag, tuple(tokens)))}
    return {hash((tag, tuple(tokens[i:i + n]))) for i in range(len(tokens) - n + 1)}


def starter_code(course_root, assignment: str) -> dict[str, list[str]]:
    """The given code of every solution cell, ``{grade_id: [code, ...]}``: the source cell with
    its solution regions cut out, and the released cell when ``release/`` holds the notebook."""
    out: dict[str, list[str]] = {}
    root = Path(course_root)
    for path in (root / "assignments" / assignment / f"{assignment}.ipynb",
                 root / "release" / assignment / f"{assignment}.ipynb"):
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError, AttributeError):
            continue
        for cell in cells if type(cells) is list else []:
            if type(cell) is not dict:
                continue
            meta = (cell.get("metadata") or {}).get("nbgrader") or {}
            if cell.get("cell_type") != "code" or not meta.get("solution") or meta.get("grade"):
                continue
            source = cell.get("source", "")
            source = "".join(source) if type(source) is list else str(source)
            out.setdefault(str(meta.get("grade_id")), []).append(_MARKERS.sub("", source))
    return out


def fold_given(code: str, given: list[str]) -> str:
    """``code`` with the lines it shares at its start with a starter text (the signature and
    the given docstring) folded into one line, for showing a cell side by side with another."""
    best = 0
    for text in given:
        prefix = os.path.commonprefix([code, text])
        best = max(best, prefix.rfind("\n") + 1)
    head = code[:best].splitlines()
    if len(head) < 3:
        return code
    return f"{head[0]}\n    ... ({len(head) - 1} given lines not shown)\n{code[best:]}"


def fingerprints(results: list[dict], starter: dict[str, list[str]],
                 keep: frozenset = frozenset()) -> dict[str, dict[str, set]]:
    """``{student: {grade_id: n-gram set}}`` of each student's solution cells, starter removed."""
    given = {gid: set().union(*(ngrams(normalised_tokens(c, keep), gid) for c in codes))
             for gid, codes in starter.items()}
    done: dict[tuple[str, str], set] = {}  # many cells are identical (an unchanged function)
    out = {}
    for result in results:
        cells = result.get("solutions") if type(result.get("solutions")) is dict else {}
        out[result["student"]] = {}
        for gid, code in cells.items():
            if type(code) is not str:
                continue
            key = (str(gid), code)
            if key not in done:
                done[key] = ngrams(normalised_tokens(code, keep), key[0]) - given.get(key[0], set())
            out[result["student"]][key[0]] = done[key]
    return out


def similar_pairs(prints: dict[str, dict[str, set]]) -> dict:
    """Pairs of students who share unusually much uncommon code (see the module docstring).

    The score of students A and B is ``|R_A & R_B| / |F_A | F_B|``: ``F`` a student's n-grams
    (starter code removed), ``R`` those held by at most ``common_cutoff`` students. It is the
    share of the pair's own code that is both uncommon in the class and common to the two:
    1 for a copy of a wholly personal submission, 0 for two copies of the textbook solution.

    Parameters
    ----------
    prints : :func:`fingerprints`.

    Returns
    -------
    dict with ``pairs`` (rows ``{"a", "b", "score", "shared", "cells"}``, ``cells`` the same
    score per grade_id, highest score first), ``threshold``, ``median``, ``mad`` (of all pair
    scores), ``compared`` (number of pairs of students with code of their own) and
    ``common_cutoff``.
    """
    if type(prints) is not dict:
        raise TypeError(f"prints must be the dict of fingerprints(), got {type(prints).__name__}")
    students = sorted(s for s, cells in prints.items() if any(cells.values()))
    n = len(students)
    cutoff = max(2, int(COMMON_FRACTION * n))
    df = Counter(g for s in students for cell in prints[s].values() for g in cell)
    rare = {s: {gid: {g for g in cell if df[g] <= cutoff} for gid, cell in prints[s].items()}
            for s in students}
    whole = {s: set().union(*prints[s].values()) for s in students}
    whole_rare = {s: set().union(*rare[s].values()) for s in students}
    scores, candidates = [], []
    for a, b in combinations(students, 2):
        shared = len(whole_rare[a] & whole_rare[b])
        union = len(whole[a]) + len(whole[b]) - len(whole[a] & whole[b]) if shared else 0
        score = shared / union if union else 0.0
        scores.append(score)
        if shared >= MIN_SHARED and score >= MIN_SCORE:
            candidates.append((a, b, score, shared))
    values = np.array(scores) if scores else np.zeros(1)
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    threshold = max(MIN_SCORE, median + SPREAD * 1.4826 * mad)
    pairs = []
    for a, b, score, shared in candidates:
        if score < threshold:
            continue
        cells = {}
        for gid in sorted(set(prints[a]) & set(prints[b])):
            union = len(prints[a][gid] | prints[b][gid])
            cells[gid] = len(rare[a][gid] & rare[b][gid]) / union if union else 0.0
        pairs.append({"a": a, "b": b, "score": score, "shared": shared, "cells": cells})
    pairs.sort(key=lambda p: (-p["score"], p["a"], p["b"]))
    return {"pairs": pairs, "threshold": threshold, "median": median, "mad": mad,
            "compared": len(scores), "common_cutoff": cutoff}
