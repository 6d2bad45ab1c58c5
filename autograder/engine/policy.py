"""Static scan of a student's code (``ast`` only: nothing is executed).

Rules (the action of each, ``"zero"`` or ``"report"``, comes from :mod:`autograder.engine.config`):

==================  =============================================================
rule                flagged when a cell ...
==================  =============================================================
reference_library   imports ``course`` or ``autograder`` (the answers' source)
ml_framework        imports ``torch``, ``jax`` or ``tensorflow``
scipy_special       imports ``scipy.special`` (or names from it)
system_access       imports or names ``subprocess``, ``socket`` or ``ctypes``
unavailable_module  imports a module that is neither in the standard library nor one of the
                    sandbox's packages (:func:`module_available`): the import fails there
==================  =============================================================

A cell whose code cannot be analysed (nested deeper than :data:`MAX_NESTING` levels, too deep
for the parser, or out of the analysing process's memory) gets the flag
``unreadable_code``, always with the action ``"zero"``: what cannot be checked is not graded.
A cell with a plain syntax error gets no flag (it fails its tests on its own).

Imports are found in ``import`` / ``from ... import`` statements, ``__import__("x")`` and
``importlib.import_module("x")`` calls with a literal name, and any attribute or name that
spells one of the system modules. The scan cannot see names built at run time (e.g.
``__import__("sub" + "process")``): inside the sandbox ``course`` and ``autograder`` cannot be
imported anyway, and the network and other processes are out of reach.

IPython syntax (``%timeit`` lines, ``%%time`` cells, ``!ls`` shell lines) is turned into Python
by IPython's own input transformer (:func:`transform_magics`) before the scan, exactly as a
kernel would; inside the sandbox a stub ``get_ipython()`` answers the resulting calls.

Size: the student's code (solution and added cells together, outputs not counted) may hold
:data:`MAX_CODE_BYTES`; the in-notebook check warns about the same limit. Parsing costs the
parent up to ~900 bytes of memory per byte of code, so code over :data:`INLINE_CODE_BYTES` is
analysed in a separate, memory- and CPU-limited process (:mod:`autograder.engine.analysis`).
"""
from __future__ import annotations

import ast
import sys

MAX_CODE_BYTES = 2 << 20
"""Most code (UTF-8 bytes of the solution and added cells together) a notebook may hold to be
graded: 2 MiB. Outputs and written answers do not count."""

INLINE_CODE_BYTES = 64 << 10
"""Code up to this size is analysed in the grader's own process (at most ~60 MB to parse)."""

MAX_NESTING = 500
"""Deepest syntax tree the scan accepts, whatever the process's recursion limit (honest code
stays far below; the sandbox's compiler gives up near 1000 levels)."""

RULES = {
    "reference_library": ("course", "autograder"),
    "ml_framework": ("torch", "jax", "tensorflow"),
    "scipy_special": ("scipy.special",),
    "system_access": ("subprocess", "socket", "ctypes"),
}

UNAVAILABLE = "unavailable_module"
UNREADABLE = "unreadable_code"

_DEFAULT_PACKAGES = ("numpy",)


def sandbox_packages() -> tuple[str, ...]:
    """Packages beyond the standard library that student code can import in the sandbox
    (``autograder.sandbox.launcher.SANDBOX_PACKAGES``; NumPy alone if it does not say)."""
    try:
        from autograder.sandbox import launcher
    except Exception:  # noqa: BLE001 - the scan must work without the sandbox (e.g. checks)
        return _DEFAULT_PACKAGES
    return tuple(getattr(launcher, "SANDBOX_PACKAGES", _DEFAULT_PACKAGES))


def module_available(name: str, packages: tuple[str, ...] | None = None) -> bool:
    """Whether ``import name`` can work in the sandbox: the top-level package is in the
    standard library (``sys.stdlib_module_names``) or in ``packages`` (default
    :func:`sandbox_packages`). The one rule used by the scan and the in-notebook check."""
    root = str(name).split(".")[0]
    if root in sys.stdlib_module_names:
        return True
    return root in (sandbox_packages() if packages is None else packages)


def unavailable_message(module: str) -> str:
    """What the student reads about a module the sandbox does not have."""
    return f"module {module.split('.')[0]} is not available to the grader"


def _rule_of(module: str) -> str | None:
    for rule, prefixes in RULES.items():
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                return rule
    return None


def _walk(tree: ast.AST):
    """Every node of ``tree`` (iteratively); raises RecursionError past :data:`MAX_NESTING`."""
    todo = [(tree, 0)]
    while todo:
        node, depth = todo.pop()
        if depth > MAX_NESTING:
            raise RecursionError(f"more than {MAX_NESTING} levels")
        yield node
        todo.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _imported_names(tree: ast.AST):
    for node in _walk(tree):
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


_TOO_DEEP = "is nested too deeply (or too large) to be checked"


def _parse(source: str) -> ast.AST | str | None:
    """The tree of ``source``; None for a syntax error; a reason when it cannot be analysed."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):  # ValueError: a null byte
        return None
    except (RecursionError, MemoryError, SystemError):  # SystemError: CPython's parser can
        return _TOO_DEEP  # report deep nesting as "AST constructor recursion depth mismatch"


def _imports_of(source: str) -> set[str] | str | None:
    """The module names ``source`` imports; None for a syntax error; a reason when it cannot
    be analysed."""
    tree = _parse(source)
    if not isinstance(tree, ast.AST):
        return tree
    try:
        return set(_imported_names(tree))
    except RecursionError:
        return _TOO_DEEP


def imported_modules(source: str) -> set[str]:
    """Every module name ``source`` imports (see the module docstring); empty if it cannot be
    analysed."""
    found = _imports_of(source)
    return found if isinstance(found, set) else set()


def transform_magics(source: str) -> str:
    """``source`` with IPython syntax turned into Python, as a kernel runs it.

    Code that already parses is returned unchanged (the transformer only matters for magics,
    shell lines and help syntax); so is code the transformer cannot fix.
    """
    try:
        ast.parse(source)
        return source
    except SyntaxError:
        pass
    except (ValueError, RecursionError, MemoryError, SystemError):
        return source
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        transformed = TransformerManager().transform_cell(source)
        ast.parse(transformed)
    except Exception:  # noqa: BLE001 - untrusted text: any failure keeps the original
        return source
    return transformed


def scan(source: str, allowed: frozenset | set = frozenset(),
         packages: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    """Flags of one cell: a sorted list of ``(rule, detail)``; ``[]`` when the cell is clean.

    Parameters
    ----------
    source : the cell's code (after :func:`transform_magics`).
    allowed : module names that are not flagged (imports the source notebook's given cells
        make themselves).
    packages : the sandbox's packages (default :func:`sandbox_packages`).
    """
    found = _imports_of(source)
    if isinstance(found, str):
        return [(UNREADABLE, found)]
    if found is None:
        return []
    packages = sandbox_packages() if packages is None else packages
    flags = set()
    for module in sorted(found):
        if module in allowed:
            continue
        rule = _rule_of(module)
        if rule:
            flags.add((rule, f"uses {module}"))
        elif not module_available(module, packages):
            flags.add((UNAVAILABLE, unavailable_message(module)))
    return sorted(flags)


def _action(rule: str, actions: dict[str, str]) -> str:
    return "zero" if rule == UNREADABLE else actions.get(rule, "report")


def flags_of(program: list[dict], scans: list[list], actions: dict[str, str]) -> list[dict]:
    """Flags of a submission's program (:attr:`notebook_io.Extraction.program`) from the
    ``(rule, detail)`` pairs of each entry (``scans``, aligned with ``program``).

    A flag in a solution cell names its function; one in an added cell names none
    (``"function": None``): when its action is ``"zero"`` it applies to every function, since
    any function may use what that cell defines.
    """
    out = []
    for entry, found in zip(program, scans):
        for rule, detail in found:
            if entry["kind"] == "solution":
                function, where = entry["grade_id"], ""
            else:
                function, where = None, f"added cell {int(entry['cell']) + 1}: "
            out.append({"rule": rule, "function": function, "detail": where + detail,
                        "action": _action(rule, actions)})
    return out
