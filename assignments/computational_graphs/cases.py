"""Cases of the ``computational_graphs`` assignment: backpropagation by hand and a scalar
reverse-mode autodiff engine, graded on random expression graphs.

====================================  ==============================  =======
function                              test cell                       points
====================================  ==============================  =======
add_mul_by_hand(x, y, z)              test_add_mul_by_hand            2
sigmoid_neuron_by_hand(w0, ..., w2)   test_sigmoid_neuron_by_hand     3
evaluate(nodes, values)               test_evaluate_arithmetic        2
evaluate(nodes, values)               test_evaluate_exp_log           2
evaluate(nodes, values)               test_evaluate_activations       2
evaluate(nodes, values)               test_evaluate_graphs            6
====================================  ==============================  =======

plus five written answers (2 points each, graded by hand): 17 points autograded, 10 by hand.

An expression graph travels as plain data. ``values`` maps each leaf name to a float;
``nodes`` is a list of ``[name, op, arg, ...]`` in an order where every argument is defined
before it is used; the last node is the output:

* ``[name, "add", a, b]``, ``[name, "mul", a, b]``, ``[name, "max", a, b]``;
* ``[name, "pow", a, p]`` with a constant exponent ``p`` (a float);
* ``[name, op, a]`` for ``op`` in ``exp``, ``log``, ``relu``, ``sigmoid``, ``tanh``.

``evaluate(nodes, values)`` returns ``(node_values, gradients)``: two dicts over every name
(leaves and nodes), the forward value and d(output)/d(name).

The reference here is a plain reverse sweep over the node list (no classes). Typical mistakes
are recognised by running the same sweep with the mistake built in (a wrong local gradient of
one operation, ``=`` instead of ``+=``, a traversal that is not a topological order, no seed)
and comparing the student's answer with each of these "mutants". Random graphs are drawn
again until every mutant is told apart from the right answer, so each mistake costs points in
every case of its test cell. Every case is a :class:`~autograder.cases.messages.HintedCase`
(messages wrapped at word boundaries; raised NumPy shape errors explained).
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np

from autograder.cases.messages import HintedCase
from autograder.cases.spec import AssignmentSpec

NAME = "computational_graphs"

RTOL = 1e-6
ATOL = 1e-8
SEPARATED = 1e-3
"""A mutant counts as told apart when some gradient differs by more than this (relative)."""

ARITY = {"add": 2, "mul": 2, "max": 2, "pow": 1, "exp": 1, "log": 1, "relu": 1, "sigmoid": 1,
         "tanh": 1}
OPS = tuple(ARITY)
EXPONENTS = (2.0, 3.0, -1.0, 0.5, -0.5, 1.5)
MAX_INNER_LEVEL = 2
"""Shared graphs: an operation takes arguments at most this deep (the joins on top add more)."""
_NUMBER_TYPES = (float, int, np.float64, np.float32, np.int64)


# ----------------------------------------------------------------------------- the reference
def _sigmoid(u: float) -> float:
    if u >= 0:
        return 1.0 / (1.0 + math.exp(-u))
    e = math.exp(u)
    return e / (1.0 + e)


def forward_value(op: str, args: list[float], p: float | None = None) -> float:
    """Value of one operation on the values of its arguments (``p``: the exponent of pow)."""
    if op == "add":
        return args[0] + args[1]
    if op == "mul":
        return args[0] * args[1]
    if op == "max":
        return max(args[0], args[1])
    if op == "pow":
        return args[0] ** p
    if op == "exp":
        return math.exp(args[0])
    if op == "log":
        return math.log(args[0])
    if op == "relu":
        return max(args[0], 0.0)
    if op == "sigmoid":
        return _sigmoid(args[0])
    if op == "tanh":
        return math.tanh(args[0])
    raise ValueError(f"op must be one of {OPS}, got {op!r}")


def local_gradients(op: str, args: list[float], out: float, p: float | None = None) -> tuple:
    """d(out)/d(arg) for each argument of one operation (the right ones)."""
    u = args[0]
    if op == "add":
        return (1.0, 1.0)
    if op == "mul":
        return (args[1], args[0])
    if op == "max":
        return (1.0, 0.0) if args[0] > args[1] else (0.0, 1.0)
    if op == "pow":
        return (p * u ** (p - 1.0),)
    if op == "exp":
        return (out,)
    if op == "log":
        return (1.0 / u,)
    if op == "relu":
        return (1.0 if u > 0 else 0.0,)
    if op == "sigmoid":
        return (out * (1.0 - out),)
    if op == "tanh":
        return (1.0 - out * out,)
    raise ValueError(f"op must be one of {OPS}, got {op!r}")


# (op, wrong local gradients, hint): the local-gradient mistakes the feedback recognises
WRONG_LOCALS = (
    ("mul", lambda a, out, p: (a[0], a[1]),
     "mul: each input's local gradient is the OTHER input (d(ab)/da = b), not itself"),
    ("pow", lambda a, out, p: (p * a[0] ** p,),
     "pow: d(u^p)/du = p u^(p-1): lower the exponent by one"),
    ("pow", lambda a, out, p: (a[0] ** (p - 1.0),),
     "pow: d(u^p)/du = p u^(p-1): the factor p is missing"),
    ("exp", lambda a, out, p: (a[0],),
     "exp: the local gradient of e^u is e^u itself (the output), not u"),
    ("log", lambda a, out, p: (out,),
     "log: d(log u)/du = 1/u, not log u"),
    ("log", lambda a, out, p: (1.0 / out,),
     "log: d(log u)/du = 1/u with u the INPUT, not 1/log(u)"),
    ("relu", lambda a, out, p: (1.0,),
     "relu: no gradient passes where the input is negative (local gradient 0 there)"),
    ("relu", lambda a, out, p: (out,),
     "relu: its local gradient is 1 (input > 0) or 0, not the output max(u, 0)"),
    ("max", lambda a, out, p: (1.0, 1.0),
     "max routes the whole gradient to the LARGER input only; the other gets 0"),
    ("max", lambda a, out, p: (0.0, 1.0) if a[0] > a[1] else (1.0, 0.0),
     "max routes the gradient to the LARGER input, not the smaller one"),
    ("sigmoid", lambda a, out, p: (out,),
     "sigmoid: its local gradient is s (1 - s) with s = sigmoid(u), not s alone"),
    ("sigmoid", lambda a, out, p: (a[0] * (1.0 - a[0]),),
     "sigmoid: the local gradient is s (1 - s) with s = sigmoid(u), the OUTPUT, not u (1 - u)"),
    ("tanh", lambda a, out, p: (1.0 - a[0] ** 2,),
     "tanh: the local gradient is 1 - t^2 with t = tanh(u), the OUTPUT, not 1 - u^2"),
    ("tanh", lambda a, out, p: (1.0 - out,),
     "tanh: the local gradient is 1 - t^2 (t squared), not 1 - t"),
)


def _parents(nodes) -> dict:
    return {n[0]: (n[2:4] if n[1] in ("add", "mul", "max") else n[2:3]) for n in nodes}


def forward_values(nodes, values) -> dict:
    """``{name: value}`` of every leaf and node, computed in list order."""
    vals = {k: float(v) for k, v in values.items()}
    for node in nodes:
        name, op = node[0], node[1]
        args = [vals[a] for a in node[2:2 + ARITY[op]]]
        vals[name] = forward_value(op, args, node[3] if op == "pow" else None)
    return vals


def _edges(nodes, vals, wrong=None) -> dict:
    """``{name: [(parent, local gradient), ...]}``; ``wrong = (op, fn)`` swaps in a mistake."""
    edges = {}
    for node in nodes:
        name, op = node[0], node[1]
        parents = node[2:2 + ARITY[op]]
        args = [vals[a] for a in parents]
        p = node[3] if op == "pow" else None
        if wrong is not None and wrong[0] == op:
            locals_ = wrong[1](args, vals[name], p)
        else:
            locals_ = local_gradients(op, args, vals[name], p)
        edges[name] = list(zip(parents, locals_))
    return edges


def _dfs_postorder(edges, root, seen=True) -> list:
    """Every node reachable from ``root``, each after its parents (``seen=False``: no
    visited set, so a shared node appears once per path)."""
    order, visited = [], set()

    def visit(name):
        if seen and name in visited:
            return
        visited.add(name)
        for parent, _ in edges.get(name, ()):
            visit(parent)
        order.append(name)

    visit(root)
    return order


def backward(nodes, vals, *, mistake: str = "", wrong=None) -> dict:
    """``{name: d(output)/d(name)}`` by a reverse sweep; ``mistake`` builds one in:

    ``""`` (right), ``"overwrite"`` / ``"overwrite_dfs"`` (``=`` instead of ``+=``, in list
    or depth-first order), ``"no_reverse"`` (topological order not reversed), ``"bfs"`` /
    ``"bfs_dequeue"`` (breadth-first from the output), ``"recursive"`` / ``"recursive_edge"``
    (push to the parents and recurse, with no order at all), ``"dfs_repeats"`` (depth-first
    order without a visited set), ``"no_seed"``. ``wrong = (op, fn)``: a wrong local gradient.
    """
    edges = _edges(nodes, vals, wrong)
    root = nodes[-1][0]
    grads = dict.fromkeys(vals, 0.0)
    grads[root] = 0.0 if mistake == "no_seed" else 1.0

    def push(name, overwrite=False):
        for parent, local in edges.get(name, ()):
            if overwrite:
                grads[parent] = local * grads[name]
            else:
                grads[parent] += local * grads[name]

    if mistake in ("", "no_seed", "overwrite"):
        for node in reversed(nodes):
            push(node[0], overwrite=mistake == "overwrite")
    elif mistake == "overwrite_dfs":
        for name in reversed(_dfs_postorder(edges, root)):
            push(name, overwrite=True)
    elif mistake == "dfs_repeats":
        for name in reversed(_dfs_postorder(edges, root, seen=False)):
            push(name)
    elif mistake == "no_reverse":
        for node in nodes:
            push(node[0])
    elif mistake == "bfs":  # a node is queued once, when first seen
        queue, marked = deque([root]), {root}
        while queue:
            name = queue.popleft()
            push(name)
            for parent, _ in edges.get(name, ()):
                if parent not in marked:
                    marked.add(parent)
                    queue.append(parent)
    elif mistake == "bfs_dequeue":  # a node is processed once, when first taken off the queue
        queue, done = deque([root]), set()
        while queue:
            name = queue.popleft()
            if name in done:
                continue
            done.add(name)
            push(name)
            queue.extend(parent for parent, _ in edges.get(name, ()))
    elif mistake == "recursive":
        def visit(name):
            push(name)
            for parent, _ in edges.get(name, ()):
                visit(parent)
        visit(root)
    elif mistake == "recursive_edge":
        def visit_edge(name):
            for parent, local in edges.get(name, ()):
                grads[parent] += local * grads[name]
                visit_edge(parent)
        visit_edge(root)
    else:
        raise ValueError(f"mistake must be a known mistake name, got {mistake!r}")
    return grads


def reference_evaluate(nodes, values) -> tuple[dict, dict]:
    """The right answer of ``evaluate(nodes, values)``: ``(node_values, gradients)``."""
    vals = forward_values(nodes, values)
    return vals, backward(nodes, vals)


ORDER_MISTAKES = (
    ("overwrite", "gradients are assigned (=) where they must be accumulated (+=): a node used "
                  "by several operations gets the SUM of the contributions of every use"),
    ("overwrite_dfs", "gradients are assigned (=) where they must be accumulated (+=): a node "
                      "used by several operations gets the SUM of the contributions of every use"),
    ("no_reverse", "backward must visit the nodes in REVERSE topological order (the output first, "
                   "so that a node's gradient is complete before it is passed on)"),
    ("bfs", "a breadth-first sweep from the output is not a topological order: a shared node can "
            "pass its gradient on before every node that uses it has contributed"),
    ("bfs_dequeue", "a breadth-first sweep from the output is not a topological order: a shared "
                    "node can pass its gradient on before every node that uses it has contributed"),
    ("recursive", "recursing from the output without a topological order passes a shared node's "
                  "gradient on once per path (and before it is complete): sort the nodes first"),
    ("recursive_edge", "recursing from the output without a topological order passes a shared "
                       "node's gradient on once per path (and before it is complete): sort the "
                       "nodes first"),
    ("dfs_repeats", "your topological order lists a shared node more than once (keep a set of "
                    "visited nodes), so its gradient is passed on several times"),
)


def _mutants(nodes, vals, *, orders: bool):
    """``[(hint, gradients)]`` of every recognised mistake that applies to this graph
    (``gradients`` is None where the mistake cannot even be computed, e.g. 1 / log(1))."""
    ops = {n[1] for n in nodes}
    plan = [("the output's gradient must be seeded: d(out)/d(out) = 1 before the backward sweep",
             {"mistake": "no_seed"})]
    if orders:
        plan += [(hint, {"mistake": m}) for m, hint in ORDER_MISTAKES]
    plan += [(hint, {"wrong": (op, fn)}) for op, fn, hint in WRONG_LOCALS if op in ops]
    out = []
    for hint, how in plan:
        try:
            out.append((hint, backward(nodes, vals, **how), how.get("wrong", ("",))[0]))
        except (ArithmeticError, ValueError):
            out.append((hint, None, ""))
    return out


def _separated(a: dict | None, b: dict) -> bool:
    return a is not None and any(abs(a[k] - b[k]) > SEPARATED * (1.0 + abs(b[k])) for k in b)


def _every_mistake_tells(mutants, right: dict) -> bool:
    """Whether each recognised mistake changes the answer, and no two mistakes with different
    hints give the same answer (the hint a student gets then names their own mistake)."""
    if not all(_separated(m, right) for _, m, _ in mutants):
        return False
    for i, (hint_a, a, _) in enumerate(mutants):
        for hint_b, b, _ in mutants[i + 1:]:
            if hint_a != hint_b and b is not None and not _separated(a, b):
                return False
    return True


# ----------------------------------------------------------------------------- random graphs
def _arg_ok(op, args, p=None) -> bool:
    """Whether an operation's arguments are in the safe range (no overflow, no kinks, no ties,
    no log of a negative, gradients of a reasonable size)."""
    u = args[0]
    if op == "max":
        ok = abs(args[0] - args[1]) > 0.1
    elif op == "pow":
        ok = (0.2 <= abs(u) <= 2.5) if p in (2.0, 3.0) else (0.3 <= u <= 5.0)
    elif op == "exp":
        ok = -3.0 <= u <= 2.0
    elif op == "log":
        ok = u >= 0.3 and abs(u - 1.0) > 0.05
    elif op == "relu":
        ok = abs(u) > 0.1
    elif op in ("sigmoid", "tanh"):
        ok = abs(u) <= 3.0
    else:
        ok = True
    return ok and abs(forward_value(op, args, p)) <= 20.0


def _fresh_leaf(rng, op):
    """A leaf value that suits ``op`` as its (first) argument."""
    if op in ("log", "pow"):
        return float(rng.uniform(0.4, 2.0))
    value = float(rng.uniform(0.3, 2.0))
    return value if rng.random() < 0.5 else -value


def _build(rng, ops, n_ops, shared):
    """One attempt at a random graph; ``None`` when it went out of the safe ranges."""
    letters = ["a", "b", "c", "d", "e", "g", "h", "k", "m", "p", "q", "r", "s", "t", "u", "v",
               "w", "x", "y", "z"]
    spare = [f"x{i}" for i in range(1, 40)]  # never needed in practice: 20 letters suffice
    leaf_names = iter(rng.permutation(letters).tolist() + spare)
    values, vals, uses, level, nodes = {}, {}, {}, {}, []

    def new_leaf(op, value=None):
        name = next(leaf_names)
        values[name] = vals[name] = _fresh_leaf(rng, op) if value is None else value
        uses[name] = level[name] = 0
        return name

    for _ in range(int(rng.integers(2, 5)) if shared else 1):
        new_leaf("add")
    plan = [str(op) for op in rng.permutation(list(ops))]
    plan += [ops[int(i)] for i in rng.integers(0, len(ops), size=max(0, n_ops - len(ops)))]
    for index, op in enumerate(plan, start=1):
        p = float(EXPONENTS[int(rng.integers(0, len(EXPONENTS)))]) if op == "pow" else None
        names = list(vals)
        unused = [n for n in names if uses[n] == 0]
        args = []
        if op == "relu" and "relu" not in {n[1] for n in nodes}:
            # the first relu gets a leaf of its own, negative: its gradient must be 0
            args.append(new_leaf(op, -float(rng.uniform(0.3, 2.0))))
        for slot in range(len(args), ARITY[op]):
            if shared:
                pool = unused if unused and rng.random() < 0.6 else names
                if slot == 0 and rng.random() < 0.2:
                    pool = names[-3:]  # a recent one: deeper graphs
                candidates = [n for n in pool if (op in ("add", "mul") or n not in args)
                              and level[n] < MAX_INNER_LEVEL]
            else:
                candidates = [n for n in unused if n not in args]
            pick = None
            for i in rng.permutation(len(candidates)):
                trial = args + [candidates[int(i)]]
                if len(trial) < ARITY[op] or _arg_ok(op, [vals[a] for a in trial], p):
                    pick = trial[-1]
                    break
            args.append(pick if pick is not None else new_leaf(op))
        if not _arg_ok(op, [vals[a] for a in args], p):
            return None
        if op == "max" and args[0] == args[1]:
            return None
        name = f"n{index}"
        vals[name] = forward_value(op, [vals[a] for a in args], p)
        for a in args:
            uses[a] += 1
        uses[name] = 0
        level[name] = 1 + max(level[a] for a in args)
        nodes.append([name, op, *args] + ([p] if op == "pow" else []))

    def join_op(a, b):
        """add, or mul where the case has mul: a case about other ops never depends on mul."""
        small = "mul" in ops and abs(vals[a] * vals[b]) <= 20.0
        return "mul" if small and rng.random() < 0.5 else "add"

    # join whatever is still unused into the output, so that every name matters
    dangling = [n for n in vals if uses[n] == 0]
    while len(dangling) > 1:  # pairwise, a balanced tree on top
        joined = []
        for a, b in zip(dangling[::2], dangling[1::2]):
            op = join_op(a, b)
            name = f"n{len(nodes) + 1}"
            vals[name] = forward_value(op, [vals[a], vals[b]])
            uses[a] += 1
            uses[b] += 1
            uses[name] = 0
            nodes.append([name, op, a, b])
            joined.append(name)
        dangling = joined + dangling[len(dangling) - len(dangling) % 2:]
    if shared:  # a skip connection: an inner node used again by the output
        inner = [n[0] for n in nodes[:-1] if n[1] not in ("relu", "max")]
        if not inner:
            return None
        a, b = nodes[-1][0], inner[int(rng.integers(0, len(inner)))]
        op = join_op(a, b)
        name = f"n{len(nodes) + 1}"
        vals[name] = forward_value(op, [vals[a], vals[b]])
        uses[a] += 1
        uses[b] += 1
        nodes.append([name, op, a, b])
    if not shared and any(u > 1 for u in uses.values()):
        return None
    return nodes, values


def depth(nodes) -> int:
    """Length of the longest path from a leaf to the output."""
    level: dict = {}
    for node in nodes:
        parents = node[2:2 + ARITY[node[1]]]
        level[node[0]] = 1 + max(level.get(a, 0) for a in parents)
    return level[nodes[-1][0]]


def shared_nodes(nodes) -> list:
    """Names used as an argument more than once (by several nodes, or twice by one)."""
    count: dict = {}
    for node in nodes:
        for a in node[2:2 + ARITY[node[1]]]:
            count[a] = count.get(a, 0) + 1
    return [name for name, c in count.items() if c > 1]


def random_graph(rng, ops=OPS, *, n_ops=(4, 6), shared=True, depths=(2, 6)):
    """A random expression graph ``(nodes, values)`` using every op of ``ops`` at least once.

    ``shared=True``: a DAG with shared sub-expressions (and whose every recognised mistake
    changes the answer); ``shared=False``: a tree, every name used once.
    """
    for _ in range(500):
        size = int(rng.integers(n_ops[0], n_ops[1] + 1))
        built = _build(rng, tuple(ops), max(size, len(ops)), shared)
        if built is None:
            continue
        nodes, values = built
        if not depths[0] <= depth(nodes) <= depths[1] or len(nodes) > 24:
            continue
        if shared and not any(name.startswith("n") and name[1:].isdigit()
                              for name in shared_nodes(nodes)):
            continue
        vals = forward_values(nodes, values)
        right = backward(nodes, vals)
        if not all(math.isfinite(g) and abs(g) < 1e3 for g in right.values()):
            continue
        if _every_mistake_tells(_mutants(nodes, vals, orders=shared), right):
            return nodes, values
    raise RuntimeError("no random graph found in 500 tries")  # a grader bug, never the student's


# ----------------------------------------------------------------------------- judging answers
def _number(x):
    """The float of an untrusted scalar answer, or None if it is not a plain number."""
    if type(x) in _NUMBER_TYPES:
        value = float(x)
        return value if math.isfinite(value) else None
    return None


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= ATOL + RTOL * abs(b)


def describe(node) -> str:
    """``"n3 = tanh(n1)"``, ``"n4 = pow(n2, 0.5)"``."""
    args = [str(a) for a in node[2:2 + ARITY[node[1]]]]
    if node[1] == "pow":
        args.append(f"{node[3]:g}")
    return f"{node[0]} = {node[1]}({', '.join(args)})"


def _read_dict(answer, names, what):
    """``({name: float}, "")`` or ``(None, message)`` for one untrusted dict of the answer."""
    if type(answer) is not dict:
        return None, f"{what} should be a dict {{name: float}}, got {type(answer).__name__}"
    missing = [n for n in names if n not in answer]
    if missing:
        return None, f"{what} is missing the names {missing[:6]}"
    out = {}
    for name in names:
        value = _number(answer[name])
        if value is None:
            return None, (f"{what}[{name!r}] should be a finite float, got "
                          f"{type(answer[name]).__name__}"
                          + (f" {answer[name]!r}" if type(answer[name]) is float else ""))
        out[name] = value
    return out, ""


def compare_evaluate(actual, expected, inputs) -> tuple[bool, str]:
    """Judge ``evaluate``'s untrusted answer: forward values first, then gradients."""
    nodes = inputs["nodes"]
    right_vals, right_grads = expected
    names = list(right_vals)
    if type(actual) not in (tuple, list) or len(actual) != 2:
        return False, ("evaluate should return a pair (node_values, gradients) of dicts, got "
                       + (f"a {type(actual).__name__} of length {len(actual)}"
                          if type(actual) in (tuple, list) else type(actual).__name__))
    vals, msg = _read_dict(actual[0], names, "node_values")
    if vals is None:
        return False, msg
    by_name = {n[0]: n for n in nodes}
    for name in names:  # leaves first, then the nodes in list order
        if not _close(vals[name], right_vals[name]):
            if name not in by_name:
                return False, (f"node_values[{name!r}] is {vals[name]:.8g}, expected "
                               f"{right_vals[name]:.8g}: a leaf keeps the number it was given")
            return False, (f"the forward pass goes wrong at {describe(by_name[name])}: got "
                           f"{vals[name]:.8g}, expected {right_vals[name]:.8g}, although its "
                           f"inputs are right: check the forward formula of {by_name[name][1]}. "
                           + graph_text(nodes, inputs["values"]))
    grads, msg = _read_dict(actual[1], names, "gradients")
    if grads is None:
        return False, msg
    wrong = [n for n in names if not _close(grads[n], right_grads[n])]
    if not wrong:
        return True, ""
    root = nodes[-1][0]
    summary = f"{len(wrong)} of {len(names)} gradients differ from the reference"
    graph = graph_text(nodes, inputs["values"])
    if not _close(grads[root], 1.0):
        return False, (f"{summary}; the output {root}'s own gradient is {grads[root]:.8g}: "
                       f"seed d(out)/d(out) = 1 before the backward sweep. {graph}")
    where, advice = _first_wrong(nodes, grads, right_grads, set(wrong))
    for hint, mutant, op in _mutants(nodes, right_vals, orders=True):
        if mutant is not None and all(_close(grads[n], mutant[n]) for n in names):
            if op:  # a wrong local gradient: say where the op is
                where = f"{op} is at " + "; ".join(describe(n) for n in nodes if n[1] == op)
            return False, f"{summary}. Hint: {hint}. Where: {where}. {graph}"
    return False, f"{summary}; {where}: {advice}. {graph}"


def graph_text(nodes, values) -> str:
    """``"The graph: a = 0.5, b = -1.2; n1 = add(a, b); ..."`` (leaf values rounded)."""
    leaves = ", ".join(f"{name} = {value:.4g}" for name, value in values.items())
    return f"The graph: {leaves}; " + "; ".join(describe(n) for n in nodes)


def _first_wrong(nodes, grads, right, wrong: set) -> tuple[str, str]:
    """Where the gradients first go wrong, walking back from the output: a node whose
    gradient is wrong although the gradients of all its users are right; and what to check."""
    users: dict = {}
    for node in nodes:
        for a in node[2:2 + ARITY[node[1]]]:
            users.setdefault(a, []).append(node)
    inner = {node[0] for node in nodes}
    order = [n[0] for n in reversed(nodes)] + [n for n in right if n not in inner]
    for name in order:
        using = users.get(name, [])
        if name not in wrong or any(u[0] in wrong for u in using):
            continue
        where = f"gradients[{name!r}] is {grads[name]:.8g}, expected {right[name]:.8g}"
        if len(using) == 1:
            return (f"{where}, although {describe(using[0])} has the right gradient",
                    f"check the local gradient of {using[0][1]}")
        return (f"{where}; it is used {len(using)} times "
                f"({'; '.join(describe(u) for u in using)}), whose gradients are right",
                "its gradient must be accumulated (+=) over every use, and be complete before "
                "it is passed on (reverse topological order); or the local gradient of one of "
                "these ops is wrong")
    return "", "check the backward sweep"  # not reached: some wrong node has only right users


def _graph_inputs(ops, *, shared, n_ops, depths):
    def make(rng):
        nodes, values = random_graph(rng, ops, n_ops=n_ops, shared=shared, depths=depths)
        return {"nodes": nodes, "values": values}
    return make


# ----------------------------------------------------------------------------- by hand
ADD_MUL_KEYS = ("q", "f", "df_dq", "df_dz", "df_dx", "df_dy")
NEURON_KEYS = ("z", "f", "df_dz", "df_dw0", "df_dx0", "df_dw1", "df_dx1", "df_dw2")


def _scalars(names, low=-3.0, high=3.0):
    def make(rng):
        return {n: float(v) for n, v in zip(names, rng.uniform(low, high, size=len(names)))}
    return make


def ref_add_mul(x, y, z) -> dict:
    """f = (x + y) z through q = x + y: every node's value and gradient."""
    q = x + y
    return {"q": q, "f": q * z, "df_dq": z, "df_dz": q, "df_dx": z, "df_dy": z}


def ref_neuron(w0, x0, w1, x1, w2) -> dict:
    """f = sigmoid(w0 x0 + w1 x1 + w2): the pre-activation, f and every gradient."""
    z = w0 * x0 + w1 * x1 + w2
    f = _sigmoid(z)
    dz = f * (1.0 - f)
    return {"z": z, "f": f, "df_dz": dz, "df_dw0": x0 * dz, "df_dx0": w0 * dz,
            "df_dw1": x1 * dz, "df_dx1": w1 * dz, "df_dw2": dz}


def _compare_scalars(actual, expected, keys, what, hints) -> tuple[bool, str]:
    """Judge a dict of named floats; ``hints``: ``[(make_wrong_dict, message)]``."""
    got, msg = _read_dict(actual, list(keys), what)
    if got is None:
        return False, msg
    wrong = [k for k in keys if not _close(got[k], expected[k])]
    if not wrong:
        return True, ""
    lines = [f"{what}[{k!r}] is {got[k]:.8g}, expected {expected[k]:.8g}" for k in wrong]
    for make, hint in hints:
        candidate = make()
        if any(k in candidate and _close(got[k], candidate[k]) for k in wrong):
            lines.append(f"Hint: {hint}")
            break
    return False, "\n".join(lines)


def compare_add_mul(actual, expected, inputs):
    x, y, z = inputs["x"], inputs["y"], inputs["z"]
    return _compare_scalars(actual, expected, ADD_MUL_KEYS, "add_mul_by_hand", [
        (lambda: {"df_dz": z, "df_dq": x + y}, "the mul gate swaps: df/dz is the OTHER input q, "
                                              "and df/dq is z"),
        (lambda: {"df_dx": 1.0, "df_dy": 1.0}, "the add gate's local gradient is 1, but the "
                                               "upstream gradient df/dq = z multiplies it"),
        (lambda: {"df_dx": y * z, "df_dy": x * z}, "x + y is an add gate: df/dx = df/dq * 1"),
    ])


def compare_neuron(actual, expected, inputs):
    v = dict(inputs)
    z = expected["z"]
    f = expected["f"]
    return _compare_scalars(actual, expected, NEURON_KEYS, "sigmoid_neuron_by_hand", [
        (lambda: {"df_dz": f, "df_dw0": v["x0"] * f, "df_dw2": f},
         "the sigmoid's local gradient is s (1 - s), not s"),
        (lambda: {"df_dz": z * (1 - z), "df_dw2": z * (1 - z)},
         "sigma'(z) = s (1 - s) with s = sigma(z), the output, not z (1 - z)"),
        (lambda: {"df_dz": 1.0 - f, "df_dw2": 1.0 - f},  # e^(-z) / (1 + e^(-z))
         "d/dz of 1 / (1 + e^(-z)) is e^(-z) / (1 + e^(-z))^2: the square is missing"),
        (lambda: {"df_dw0": v["w0"] * expected["df_dz"], "df_dx0": v["x0"] * expected["df_dz"]},
         "the mul gate swaps: df/dw0 = x0 * df/dz and df/dx0 = w0 * df/dz"),
        (lambda: {"df_dw0": v["x0"], "df_dx0": v["w0"], "df_dw1": v["x1"], "df_dx1": v["w1"]},
         "chain rule: multiply the mul gate's local gradient by the upstream df/dz"),
        (lambda: {"f": z}, "f is the sigmoid of z, not z itself"),
    ])


# ----------------------------------------------------------------------------- the cases
def _case(name, function, make, ref, cmp, points, grade_id, hidden=False):
    return HintedCase(name=name, function=function, make_inputs=make, reference=ref, compare=cmp,
                points=points, grade_id=grade_id, hidden=hidden)


def _eval_case(name, ops, points, grade_id, hidden, *, shared=False, n_ops=(3, 5),
               depths=(2, 6)):
    return _case(name, "evaluate", _graph_inputs(ops, shared=shared, n_ops=n_ops, depths=depths),
                 reference_evaluate, compare_evaluate, points, grade_id, hidden)


ARITHMETIC = ("add", "mul", "pow")
EXP_LOG = ("exp", "log")
ACTIVATIONS = ("relu", "max", "sigmoid", "tanh")
TWO_RELUS = ("relu",)
"""A second relu in every graph that has one: one can have a negative input and one a positive."""

CASES = (
    _case("f = (x + y) z at random x, y, z", "add_mul_by_hand", _scalars(("x", "y", "z")),
          ref_add_mul, compare_add_mul, 1.0, "test_add_mul_by_hand"),
    _case("f = (x + y) z, fresh random x, y, z", "add_mul_by_hand", _scalars(("x", "y", "z")),
          ref_add_mul, compare_add_mul, 1.0, "test_add_mul_by_hand", True),
    _case("sigmoid neuron at random inputs", "sigmoid_neuron_by_hand",
          _scalars(("w0", "x0", "w1", "x1", "w2"), -2.0, 2.0), ref_neuron, compare_neuron, 1.5,
          "test_sigmoid_neuron_by_hand"),
    _case("sigmoid neuron, fresh random inputs", "sigmoid_neuron_by_hand",
          _scalars(("w0", "x0", "w1", "x1", "w2"), -2.0, 2.0), ref_neuron, compare_neuron, 1.5,
          "test_sigmoid_neuron_by_hand", True),
    _eval_case("a random tree of add, mul, pow", ARITHMETIC, 1.0, "test_evaluate_arithmetic",
               False),
    _eval_case("another random tree of add, mul, pow", ARITHMETIC, 1.0,
               "test_evaluate_arithmetic", True),
    _eval_case("a random tree with exp and log", EXP_LOG + ("add", "mul"), 1.0,
               "test_evaluate_exp_log", False),
    _eval_case("another random tree with exp and log", EXP_LOG + ("add", "mul"), 1.0,
               "test_evaluate_exp_log", True),
    _eval_case("a random tree of relu, max, sigmoid, tanh", ACTIVATIONS + TWO_RELUS + ("add",),
               1.0, "test_evaluate_activations", False, n_ops=(6, 8)),
    _eval_case("another random tree of relu, max, sigmoid, tanh",
               ACTIVATIONS + TWO_RELUS + ("add",), 1.0, "test_evaluate_activations", True,
               n_ops=(6, 8)),
    _eval_case("a random graph with shared sub-expressions, every op", OPS + TWO_RELUS,
               2.0, "test_evaluate_graphs", False, shared=True, n_ops=(9, 14), depths=(2, 6)),
    _eval_case("a second random graph with shared sub-expressions", OPS + TWO_RELUS,
               2.0, "test_evaluate_graphs", True, shared=True, n_ops=(9, 14), depths=(2, 6)),
    _eval_case("a third random graph with shared sub-expressions", OPS + TWO_RELUS, 2.0,
               "test_evaluate_graphs", True, shared=True, n_ops=(9, 14), depths=(2, 6)),
)

WRITTEN = {
    "written_gate_patterns": 2.0,
    "written_topological_order": 2.0,
    "written_accumulation": 2.0,
    "written_sigmoid_gate": 2.0,
    "written_numerical_vs_autodiff": 2.0,
}

SPEC = AssignmentSpec(
    name=NAME,
    notebook=f"{NAME}.ipynb",
    functions=("add_mul_by_hand", "sigmoid_neuron_by_hand", "evaluate"),
    cases=CASES,
    written=WRITTEN,
)
