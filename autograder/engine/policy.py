"""Static scan of a student's solution cells (``ast`` only: nothing is executed).

Rules (the action of each, ``"zero"`` or ``"report"``, comes from :mod:`autograder.engine.config`):

==================  =============================================================
rule                flagged when a cell ...
==================  =============================================================
reference_library   imports ``course`` or ``autograder`` (the answers' source)
ml_framework        imports ``torch``, ``jax`` or ``tensorflow``
scipy_special       imports ``scipy.special`` (or names from it)
system_access       imports or names ``subprocess``, ``socket`` or ``ctypes``
==================  =============================================================

Imports are found in ``import`` / ``from ... import`` statements, ``__import__("x")`` and
``importlib.import_module("x")`` calls with a literal name, and any attribute or name that
spells one of the system modules. The scan cannot see names built at run time (e.g.
``__import__("sub" + "process")``): inside the sandbox ``course`` and ``autograder`` cannot be
imported anyway, and the network and other processes are out of reach.
"""
from __future__ import annotations

import ast

RULES = {
    "reference_library": ("course", "autograder"),
    "ml_framework": ("torch", "jax", "tensorflow"),
    "scipy_special": ("scipy.special",),
    "system_access": ("subprocess", "socket", "ctypes"),
}


def _rule_of(module: str) -> str | None:
    for rule, prefixes in RULES.items():
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                return rule
    return None


def _imported_names(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            for alias in node.names:
                yield f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else (
                func.attr if isinstance(func, ast.Attribute) else "")
            if name in ("__import__", "import_module") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    yield arg.value
        elif isinstance(node, ast.Name) and node.id in RULES["system_access"]:
            yield node.id
        elif isinstance(node, ast.Attribute) and node.attr in RULES["system_access"]:
            yield node.attr


def scan(source: str) -> list[tuple[str, str]]:
    """Flags of one cell: a sorted list of ``(rule, detail)``; ``[]`` when the cell is clean.

    A cell that does not parse yields no flag (it fails its tests on its own).
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    flags = set()
    for module in _imported_names(tree):
        rule = _rule_of(module)
        if rule:
            flags.add((rule, f"uses {module}"))
    return sorted(flags)


def scan_cells(cells: dict[str, str], actions: dict[str, str]) -> list[dict]:
    """Flags of every solution cell, with the configured action.

    Parameters
    ----------
    cells : ``{grade_id: source}`` of the student's solution cells.
    actions : ``{rule: "zero" | "report"}`` from the config.

    Returns
    -------
    list of dicts ``{"rule", "function", "detail", "action"}``.
    """
    out = []
    for grade_id, source in cells.items():
        for rule, detail in scan(source):
            out.append({"rule": rule, "function": grade_id, "detail": detail,
                        "action": actions.get(rule, "report")})
    return out
