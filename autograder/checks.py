"""In-notebook checks: run a graded function's cases in-process and explain any failure.

A test cell of an assignment calls, for example::

    from autograder.checks import check
    check("forward_pass", "relu", relu)                 # visible cases, fixed seed
    check("forward_pass", "relu", relu, hidden=True)    # hidden cases, fresh random seed

Each case (``autograder.cases.tasks.<assignment>``) builds random non-square inputs, computes the
reference with the ``course`` library and judges the student's answer with
``autograder.cases.compare`` (float64, rtol 1e-6, atol 1e-8). Inputs are copied before the call, so a
function that changes its input in place is caught, by the same rule as the batch grader
(``compare.changed_inputs``). Warnings raised by the student's code are recorded, never printed
to stderr (nbgrader would count stderr as a failure).

The check also says, before the student submits, what the batch grader would refuse although
it runs here: a module the grader's sandbox does not have (the rule of
``autograder.engine.policy.module_available``, applied to what the function uses) and more code
than the grader accepts (``policy.MAX_CODE_BYTES``). Both are printed as warnings on stdout.

On success :func:`check` prints one short "passed" line and returns None (nbgrader: full
credit). If a case fails it raises ``AssertionError`` with every failing case's message
(nbgrader: no credit for the cell). Accuracy cases may earn partial credit: then ``check``
returns the points earned, which nbgrader reads as the cell's partial score.
"""
from __future__ import annotations

import copy
import secrets
import time
import contextlib
import warnings
from typing import Any, Callable

import numpy as np

from autograder.cases import testfuncs
from autograder.cases.compare import changed_inputs, in_place_message, redact_values
from autograder.cases.spec import CallableArg, Case
from autograder.cases.spec import public_inputs
from autograder.cases.tasks import get_spec

VISIBLE_SEED = 20250101
"""Seed of the visible cases: students see the same inputs every run."""

TIMING_BUDGET_S = 3.0
"""Wall-clock budget for the repeated runs of a timing case."""
TIMING_ROUNDS = 7
"""At most this many alternated runs of the student's function and the baseline."""


def materialize(inputs: dict) -> dict:
    """Deep copy of ``inputs`` with every :class:`CallableArg` rebuilt as a callable."""
    out = {}
    for key, value in inputs.items():
        if isinstance(value, CallableArg):
            out[key] = testfuncs.build(value.name, value.arrays)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _describe_inputs(inputs: dict) -> str:
    parts = []
    for key, value in inputs.items():
        if type(value) is np.ndarray:
            parts.append(f"{key} {tuple(value.shape)}")
        elif type(value) is dict:
            parts.append(f"{key} {{" + ", ".join(f"{k}: {tuple(v.shape)}" for k, v in value.items()) + "}")
        elif isinstance(value, CallableArg):
            parts.append(f"{key}={value.name}")
        else:
            parts.append(f"{key}={value!r}")
    return ", ".join(parts)


def _call(fn: Callable, inputs: dict, warned: list) -> tuple[bool, Any, str]:
    """Call ``fn(**inputs)``; return ``(ok, result, error message)``; warnings go to ``warned``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn(**inputs)
        except NotImplementedError as exc:
            return False, None, f"not implemented yet (NotImplementedError: {exc})"
        except Exception as exc:  # the student's bug, reported as a message
            return False, None, f"raised {type(exc).__name__}: {exc}"
        finally:
            warned.extend(f"{w.category.__name__}: {w.message}" for w in caught)
    return True, result, ""


def _cpu_time(fn: Callable, inputs: dict, warned: list) -> tuple[bool, Any, float, str]:
    """Call ``fn(**inputs)`` and measure the CPU seconds of the whole process."""
    start = time.process_time()
    ok, result, err = _call(fn, inputs, warned)
    return ok, result, time.process_time() - start, err


def time_against_baseline(fn: Callable, baseline: Callable, pristine: dict,
                          warned: list) -> tuple[bool, Any, float, float, str]:
    """Best-of-n CPU seconds of ``fn`` and ``baseline`` on copies of the same inputs.

    The two are called alternately (up to :data:`TIMING_ROUNDS` rounds within
    :data:`TIMING_BUDGET_S`) with BLAS limited to one thread, and timed in process CPU time,
    so that other programs competing for the CPU affect both alike.

    Returns
    -------
    (ok, output, student_s, baseline_s, error) : ``output`` is the student's first result.
    """
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(limits=1)
    except ImportError:  # timing still works, only noisier
        limiter = None
    try:
        ok, output, student_s, err = _cpu_time(fn, materialize(pristine), warned)
        if not ok:
            return False, None, 0.0, 0.0, err
        base_inputs = materialize(pristine)
        baseline_s = _cpu_time(baseline, base_inputs, [])[2]  # also warms caches up
        deadline = time.perf_counter() + TIMING_BUDGET_S
        for _ in range(TIMING_ROUNDS):
            baseline_s = min(baseline_s, _cpu_time(baseline, base_inputs, [])[2])
            student_s = min(student_s, _cpu_time(fn, materialize(pristine), warned)[2])
            if time.perf_counter() > deadline:
                break
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    tick = 1e-6  # process_time resolution guard
    return True, output, max(student_s, tick), max(baseline_s, tick), ""


def run_case(case: Case, fn: Callable, rng: np.random.Generator,
             variant: dict | None = None) -> tuple[float, str, list[str]]:
    """Run one case on the student's function ``fn``.

    Parameters
    ----------
    case, fn, rng : the case, the student's function and the generator of the inputs.
    variant : the student's variant of the assignment (per-student cases only).

    Returns
    -------
    (credit, message, warnings) : credit in [0, 1] (1 = passed), the reason when not passed,
    and the warnings the student's code raised.
    """
    everything = case.inputs_for(rng, variant)
    expected = case.reference(**materialize(everything))
    pristine = public_inputs(everything)  # private inputs never reach the student's function
    call_inputs = materialize(pristine)
    warned: list[str] = []
    if case.kind == "timing":
        ok, output, student_s, baseline_s, err = time_against_baseline(
            fn, getattr(testfuncs, case.baseline), pristine, warned)
        if not ok:
            return 0.0, err, warned
        actual = {"student_s": student_s, "baseline_s": baseline_s, "output": output}
    else:
        with counted_calls(fn, case.count_calls) as calls:
            ok, actual, err = _call(fn, call_inputs, warned)
        if not ok:
            if err.startswith("raised"):
                err += f" (called with {_describe_inputs(pristine)})"
            explain = getattr(case, "explain_error", None)
            if callable(explain):
                err = explain(err, pristine)
            return 0.0, err, warned
        if case.count_calls:
            actual = {"output": actual, "calls": dict(calls)}
    changed = changed_inputs(pristine, call_inputs)  # a timing case's call_inputs stay unused,
    # as the grader's timing runs report no inputs afterwards
    if changed:
        return 0.0, in_place_message(changed), warned
    credit, message = case.compare(actual, expected, everything)
    return float(credit), message, warned


@contextlib.contextmanager
def counted_calls(fn: Callable, names: tuple[str, ...]):
    """Count, while the block runs, the calls of the student functions ``names`` that ``fn``
    makes: they are looked up in ``fn``'s module namespace (the notebook), so wrappers put there
    see every call, as the batch grader's sandbox does. Yields ``{name: count}``."""
    counts = {name: 0 for name in names}
    namespace = getattr(fn, "__globals__", None)
    originals = {}
    if names and isinstance(namespace, dict):
        for name in names:
            original = namespace.get(name)
            if callable(original):
                originals[name] = original

                def wrapper(*args, _name=name, _original=original, **kwargs):
                    counts[_name] += 1
                    return _original(*args, **kwargs)

                namespace[name] = wrapper
    try:
        yield counts
    finally:
        for name, original in originals.items():
            namespace[name] = original


def variant(assignment: str, student_id: str) -> dict:
    """The variant of ``assignment`` that student ``student_id`` works on (e.g. the network
    shape), or ``{}`` when the assignment has one variant for everybody. The batch grader grades
    each student against the variant of their own id."""
    spec = get_spec(assignment)
    return dict(spec.variant_of(student_id)) if spec.variant_of is not None else {}


def _code_objects(code):
    """``code`` and every code object nested in it (inner functions, comprehensions)."""
    todo, out = [code], []
    while todo and len(out) < 1000:
        current = todo.pop()
        out.append(current)
        todo.extend(c for c in current.co_consts if type(c) is type(code))
    return out


def grader_unavailable_modules(fn: Callable) -> list[str]:
    """Top-level modules that ``fn`` (or a function of the notebook it calls) imports or uses
    and that the batch grader's sandbox does not have, e.g. ``["sklearn"]``.

    Looks at the ``import`` statements in the code and at the global names it reads (a module,
    or a function or class imported from one); the rule is
    :func:`autograder.engine.policy.module_available`, the one the grader's scan uses.
    """
    import dis

    from autograder.engine import policy

    found, seen, todo = set(), set(), [fn]
    while todo and len(seen) < 200:
        func = todo.pop()
        code, names = getattr(func, "__code__", None), getattr(func, "__globals__", None)
        if code is None or type(names) is not dict or id(code) in seen:
            continue
        seen.add(id(code))
        for part in _code_objects(code):
            for ins in dis.get_instructions(part):
                if ins.opname == "IMPORT_NAME" and isinstance(ins.argval, str):
                    found.add(ins.argval)
                elif ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and isinstance(ins.argval, str):
                    obj = names.get(ins.argval)
                    if obj is None:
                        continue
                    module = (obj.__name__ if type(obj) is type(np)
                              else getattr(obj, "__module__", None))
                    if module == names.get("__name__"):
                        todo.append(obj)  # a helper defined in the notebook
                    elif isinstance(module, str):
                        found.add(module)
    packages = policy.sandbox_packages()
    return sorted({m.split(".")[0] for m in found if m and m != "__main__"
                   and not policy.module_available(m, packages)})


def notebook_code_bytes() -> int | None:
    """Bytes of the code cells run in this IPython kernel (each distinct text once), or None
    outside IPython. An upper bound of what the grader counts (given cells count here too)."""
    try:
        shell = get_ipython()  # noqa: F821 - defined in IPython kernels only
    except NameError:
        return None
    history = getattr(shell, "user_ns", {}).get("In")
    if not isinstance(history, list):
        return None
    return sum(len(text.encode("utf-8", "surrogatepass"))
               for text in set(history) if isinstance(text, str))


def grader_warnings(function: str, fn: Callable) -> list[str]:
    """What the batch grader would refuse about ``fn`` although it runs here (see the module
    docstring); ``[]`` when nothing."""
    from autograder.engine import policy

    notes = []
    try:
        missing = grader_unavailable_modules(fn)
    except Exception:  # noqa: BLE001 - a warning must never break the check
        missing = []
    for module in missing:
        notes.append(f"warning: {function} uses {module}, but "
                     f"{policy.unavailable_message(module)}: its tests will fail there")
    size = notebook_code_bytes()
    if size is not None and size > policy.MAX_CODE_BYTES:
        notes.append(f"warning: this notebook runs {size} bytes of code; the grader accepts "
                     f"at most {policy.MAX_CODE_BYTES} (outputs do not count)")
    return notes


def _failure(message: str) -> AssertionError:
    """The AssertionError a failed check raises. In a notebook, IPython shows an exception's
    ``_render_traceback_()`` instead of its frames, so the student reads the message alone,
    not the internals of this module."""
    error = AssertionError(message)
    error._render_traceback_ = lambda: [f"AssertionError: {message}"]
    return error


def check(assignment: str, function: str, fn: Callable, *, hidden: bool = False,
          seed: int | None = None, grade_id: str | None = None,
          student_id: str | None = None) -> float | None:
    """Run the cases of ``function`` (test cell ``grade_id``, default ``"test_<function>"``).

    Parameters
    ----------
    assignment : e.g. ``"forward_pass"``.
    function : name of the graded function, e.g. ``"relu"``.
    fn : the student's function object.
    hidden : run the hidden cases instead of the visible ones.
    seed : input seed; default a fixed seed for visible cases and a fresh random one for
        hidden cases (so hard-coded answers fail). It is printed with a failure.
    grade_id : test cell whose cases to run.
    student_id : your student id, for assignments where each student has a variant of their own
        (the grader uses the id you are registered with: another id checks another variant).

    Returns
    -------
    None when every case passed; the points earned when only partial credit was earned.

    Raises
    ------
    AssertionError listing each failing case with its message.
    """
    __tracebackhide__ = True  # pytest reports the message, not this frame
    spec = get_spec(assignment)
    cases = spec.cases_for(function=function, grade_id=grade_id or f"test_{function}",
                           hidden=hidden)
    if not cases:
        raise ValueError(f"no {'hidden' if hidden else 'visible'} cases for {function!r} "
                         f"in assignment {assignment!r}")
    if not callable(fn):
        raise _failure(f"{function} should be a function, got {type(fn).__name__}")
    for note in grader_warnings(function, fn):
        print(note)
    if seed is None:
        seed = secrets.randbits(63) if hidden else VISIBLE_SEED
    rng = np.random.default_rng(seed)
    mine = None
    if any(case.per_student for case in cases):
        if not isinstance(student_id, str) or not student_id.strip():
            raise _failure(f"{assignment} gives each student a variant of their own: set "
                           "STUDENT_ID to your student id in the first code cell and pass "
                           f"student_id=STUDENT_ID to check(); got {student_id!r}")
        mine = variant(assignment, student_id)
    earned, total, failures, partial, warned = 0.0, 0.0, [], [], []
    for case in cases:
        credit, message, case_warnings = run_case(case, fn, rng, mine)
        if case.hidden:
            message = redact_values(message)
        warned.extend(case_warnings)
        total += case.points
        earned += case.score(credit)
        if credit <= 0.0:
            failures.append(f"- {case.name}: {message}")
        elif credit < 1.0 or message:
            partial.append(f"- {case.name}: {message}")
    label = ("hidden " if hidden else "") + ("test" if len(cases) == 1 else "tests")
    note = f" ({len(warned)} warning(s), e.g. {warned[0]})" if warned else ""
    if failures and all("not implemented yet" in f for f in failures):
        raise _failure(f"{function} is not implemented yet: replace the "
                       "`raise NotImplementedError(...)` line with your code")
    if failures:
        raise _failure(
            f"{function}: {len(failures)} of {len(cases)} {label} failed (seed {seed}){note}\n"
            + "\n".join(failures + partial))
    if earned < total:
        print(f"{function}: partial credit {earned:.2f} of {total:g} points{note}\n"
              + "\n".join(partial))
        return round(earned, 4)
    print(f"{function}: {len(cases)} {label} passed{note}" + ("\n" + "\n".join(partial) if partial else ""))
    return None
