"""Student-controlled strings are inert in every output: terminal summary, feedback pages, CSV,
Gradescope JSON and the autograded copy that Formgrader shows; bad Unicode never breaks an
output and an export never truncates an existing file."""
from __future__ import annotations

import collections
import contextlib
import csv
import io
import json
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from autograder import cli
from autograder.engine import notebook_io
from autograder.outputs import exports, feedback, gradebook, safe
from autograder.sandbox import launcher as sandbox
from tests import submissions as subs
from tests.grader.conftest import load, run_cli
from tests.grader.fixtures import FULL, RUINED

TERMINAL_ATTACKS = ["\x1b[2J", "\r", "\x1b]0;title\x07", "\u202e", "\x1b[31m", "\x9b2J", "\n"]
"""Clear screen, carriage return (overwrite a line), set window title, bidi override, colour,
C1 control sequence introducer, a forged new line."""

RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069"
                          "\ud800-\udfff]")
"""Characters that must never reach a terminal or an export as they are."""

SPOOF_GID = "".join(TERMINAL_ATTACKS) + "x"


def hostile_result(student: str = "mallory") -> dict:
    """A stored result carrying every kind of hostile string a submission can put there."""
    def case(name, gid, hidden, passed, message, points=0.5):
        return {"name": name, "grade_id": gid, "function": "predict", "kind": "value",
                "hidden": hidden, "points": points if passed else 0.0, "max_points": points,
                "passed": passed, "status": "passed" if passed else "error",
                "message": message}

    return {
        "assignment": "forward_pass", "student": student, "total": 1.0, "max_total": 2.0,
        "cases": [
            case("predict visible", "test_predict", False, False,
                 "ValueError: bad \ud800 <script>alert(1)</script> \x1b[2J=cmd|' /C calc'!A0"),
            case("predict hidden", "test_predict", True, False, "secret \ud800 detail"),
            case("relu", "test_relu", False, True, "passed"),
            case("relu hidden", "test_relu", True, True, "passed"),
        ],
        "flags": [{"rule": "notebook_changed", "function": None, "action": "report",
                   "detail": f"unknown nbgrader cells ignored: {SPOOF_GID}, bad\ud800id"},
                  {"rule": "imports", "function": "predict", "action": "zero",
                   "detail": "=HYPERLINK(\"http://evil\")"}],
        "errors": ["predict: compare raised ValueError: \ud800\x1b[2J"],
    }


def strict_stream() -> io.TextIOWrapper:
    """A text stream that, like a UTF-8 terminal, refuses what UTF-8 cannot encode."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", newline="")


# --------------------------------------------------------------------------- the functions
@pytest.mark.parametrize("attack, shown", [
    ("\x1b[2J", "\\x1b[2J"), ("a\rb", "a\\rb"), ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
    ("\u202eevil", "\\u202eevil"), ("\ud800", "\\ud800"), ("l1\nl2", "l1\\nl2"),
    ("\u2028", "\\u2028"), ("\U000e0041", "\\U000e0041"), ("caf\u00e9 \u00a0", "caf\u00e9  "),
    ("plain id_1", "plain id_1")])
def test_inert_shows_control_and_format_characters(attack, shown):
    assert safe.inert(attack) == shown
    assert safe.inert(attack).isprintable()
    assert safe.inert(attack).encode("utf-8")


def test_csv_cell_neutralises_formulas_and_html_text_escapes():
    for formula in ["=1+1", "+1", "-1", "@SUM(A1)", " =1", "\uff1d1"]:
        assert safe.csv_cell(formula).startswith("'")
    assert safe.csv_cell("alice") == "alice"
    assert safe.html_text("<a href='x'>\ud800") == "&lt;a href=&#x27;x&#x27;&gt;\\ud800"
    assert safe.is_plain_id("alice.b-2") and safe.is_plain_id("Zo\u00eb")
    for bad in ["", "<img>", "a\nb", "\x1b[2J", "x\ud800", "a\u202eb", 'q"', "a&b"]:
        assert not safe.is_plain_id(bad), bad


def test_atomic_write_never_truncates_an_existing_file(tmp_path):
    path = tmp_path / "grades.csv"
    path.write_text("old,content\n")
    with pytest.raises(UnicodeEncodeError):
        safe.atomic_write(path, "new \ud800")  # fails while writing
    assert path.read_text() == "old,content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]  # no temporary file left
    safe.atomic_write(path, "new\n")
    assert path.read_text() == "new\n"


# --------------------------------------------------------------------------- every output
def test_terminal_summary_shows_escapes_and_survives_invalid_unicode():
    out = strict_stream()
    cli._summary([hostile_result(), hostile_result("evil\x1b[2J\r\u202e")], out=out)
    out.flush()
    text = out.buffer.getvalue().decode("utf-8")
    assert not RAW_CONTROLS.search(text), RAW_CONTROLS.search(text)
    assert "\\x1b[2J\\r\\x1b]0;title\\x07\\u202e\\x1b[31m\\x9b2J\\nx" in text  # the grade_id
    assert "evil\\x1b[2J\\r\\u202e" in text and "bad\\ud800id" in text
    assert "grader error for mallory: predict: compare raised ValueError: \\ud800\\x1b[2J" in text
    # one table row per student: the forged new line stayed inside its row
    rows = [ln for ln in text.splitlines() if ln.startswith(("mallory", "evil"))]
    assert len(rows) == 2 and all("1 / 2" in r for r in rows)


def test_summary_falls_back_to_escapes_on_a_narrow_terminal():
    out = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")
    cli._summary([hostile_result("Zo\u00eb")], out=out)
    out.flush()
    assert "Zo\\xeb" in out.buffer.getvalue().decode("ascii")


def test_feedback_page_escapes_everything_and_is_valid_utf8(tmp_path):
    results = [hostile_result(), hostile_result("second")]
    files = feedback.write_feedback(tmp_path, results)
    assert len(files) == 2
    page = files[0].read_bytes().decode("utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert not RAW_CONTROLS.search(page)
    assert "\\ud800" in page and "\\x1b[2J" in page
    assert "secret" not in page  # a hidden case's message never appears


def test_feedback_goes_on_after_a_page_that_cannot_be_written(tmp_path):
    (tmp_path / "feedback" / "blocked").mkdir(parents=True)
    (tmp_path / "feedback" / "blocked" / "forward_pass").write_text("a file, not a folder")
    problems: list = []
    files = feedback.write_feedback(tmp_path, [hostile_result("blocked"), hostile_result("ok")],
                                    problems=problems)
    assert [f.parent.parent.name for f in files] == ["ok"]
    assert len(problems) == 1 and problems[0][0] == "blocked"


def test_csv_export_is_inert_and_replaces_an_existing_file_atomically(tmp_path):
    out = tmp_path / "grades.csv"
    out.write_text("student,score\nearlier,13\n")
    exports.export([hostile_result("=cmd|' /C calc'!A0"), hostile_result("-2+3")], "csv", out)
    text = out.read_bytes().decode("utf-8")
    assert not RAW_CONTROLS.search(text.replace("\r\n", "\n"))  # CSV's own line ends
    rows = list(csv.reader(io.StringIO(text)))
    cells = [cell for row in rows for cell in row]
    assert all(not c.lstrip().startswith(safe.FORMULA_STARTS) for c in cells), cells
    by_student = {r[0]: r for r in rows[1:]}
    assert set(by_student) == {"'=cmd|' /C calc'!A0", "'-2+3"}
    assert "\\ud800" in text
    formula_flag = hostile_result("zed")
    formula_flag["flags"] = formula_flag["flags"][1:]
    exports.export([formula_flag], "csv", out)
    row = list(csv.DictReader(io.StringIO(out.read_text())))[0]
    assert row["flags"] == "'=HYPERLINK(\"http://evil\") [zeroed]"
    exports.export([hostile_result("=cmd|' /C calc'!A0"), hostile_result("-2+3")], "csv", out)
    # an export that fails half-way leaves the previous file whole
    before = out.read_bytes()
    broken = hostile_result()
    broken["total"] = "not a number"
    with pytest.raises(ValueError):
        exports.export([hostile_result(), broken], "csv", out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grades.csv"]


def test_gradescope_json_is_plain_text_and_valid_utf8(tmp_path):
    files = exports.export([hostile_result(), hostile_result("\udcffbytes")], "gradescope",
                           tmp_path / "gs")
    assert len(files) == 2
    for path in files:
        res = json.loads(path.read_bytes().decode("utf-8"))
        json.dumps(res, ensure_ascii=False).encode("utf-8")  # strict: no lone surrogate left
        assert res["output_format"] == res["test_output_format"] == res["test_name_format"] \
            == "text"
        for test in res["tests"]:
            for field in ("name", "output"):
                assert not RAW_CONTROLS.search(test[field].replace("\n", "")), test[field]
        visible = res["tests"][0]
        assert visible["output"] == ("ValueError: bad \\ud800 <script>alert(1)</script> "
                                     "\\x1b[2J=cmd|' /C calc'!A0")  # plain text, shown as is


# --------------------------------------------------------------------------- gradebook writer
def test_gradebook_writer_refuses_ids_formgrader_would_not_escape(tmp_path):
    writer = gradebook.Writer.__new__(gradebook.Writer)  # only put() is under test

    class Sink(io.StringIO):
        def flush(self):
            pass

    writer._proc = type("P", (), {"stdin": Sink()})()
    writer.skipped = []
    for student in ["alice", "<img src=x onerror=alert(1)>", "a\nb", "x\ud800", "\udcffz"]:
        writer.put({"student": student})
    assert writer._proc.stdin.getvalue() == "alice\n"
    assert len(writer.skipped) == 4


# --------------------------------------------------------------------------- Formgrader
PAYLOADS = [
    "<script>document.title='pwned-script'</script>",
    "<img src=x onerror=\"document.title='pwned-img'\">",
    "<a id='jslink' href=\"javascript:document.title='pwned-a'\">click me</a>",
    "[md link](javascript:document.title='pwned-md')",
    "![md image](javascript:document.title='pwned-mdimg')",
    "<iframe src=\"javascript:parent.document.title='pwned-iframe'\"></iframe>",
    "<svg onload=\"document.title='pwned-svg'\"><circle r=5></circle></svg>",
    "<style>body { display: none !important }</style>",
    "<details open ontoggle=\"document.title='pwned-details'\">x</details>",
    "```\n</code></pre><script>document.title='pwned-fence'</script>\n```",
    "<javascript:document.title='pwned-autolink'>",
]
HOSTILE_ANSWER = "My answer.\n\n" + "\n\n".join(PAYLOADS) + "\n\n$\\frac{1}{2}$ \ud800 end"


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: (v or "") for k, v in attrs}))


def _risky(page: str) -> collections.Counter:
    parser = _Tags()
    parser.feed(page)
    found = collections.Counter()
    for tag, attrs in parser.tags:
        found.update(f"<{tag} {k}>" for k in attrs if k.startswith("on"))
        found.update(f"<{tag} {k}={v}>" for k, v in attrs.items() if k in (
            "href", "src", "action", "formaction", "xlink:href", "data")
            and v.strip().lower().startswith(("javascript:", "vbscript:", "data:text/html")))
        if tag in ("script", "style", "iframe", "svg", "object", "embed", "details", "frame",
                   "base", "meta", "link", "form"):
            found[f"<{tag}>"] += 1
    return found


def active_content(page: str, baseline: str) -> list[str]:
    """What ``page`` can run, load or restyle beyond the template's own ``baseline`` page: event
    handlers, script URLs and active elements that the baseline does not have."""
    return sorted((_risky(page) - _risky(baseline)).elements())


def formgrader_html(course_root: Path, notebook_path: Path, student: str = "mallory") -> str:
    """The page Formgrader serves for ``notebook_path``: nbgrader 0.9.6's own Formgrader
    extension, configured from the course root as the Jupyter server configures it, renders
    the notebook with its exporter (as ``SubmissionHandler`` does)."""
    sys.modules.setdefault("rfc3987_syntax", None)
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader.formgrader import FormgradeExtension

    with contextlib.chdir(course_root):  # Formgrader reads nbgrader_config.py from here
        formgrader = FormgradeExtension()
        formgrader.root_dir = str(course_root)
        formgrader.initialize([])
    exporter = HTMLExporter(config=formgrader.config)  # what init_tornado_settings builds
    resources = {"assignment_id": "forward_pass", "notebook_id": "forward_pass",
                 "submission_id": "s1", "index": 0, "total": 1, "base_url": "",
                 "student": student, "last_name": None, "first_name": None,
                 "notebook_path": f"autograded/{student}/forward_pass/forward_pass.ipynb"}
    html, _ = exporter.from_filename(str(notebook_path), resources=resources)
    return html


def _with_answer(answer: str) -> dict:
    result = hostile_result()
    result["written"] = {"written_zero_one": answer}
    result["solutions"] = {"predict": "def predict(y_hat, threshold=0.5):\n"
                                      "    return '<script>\ud800'\n"}
    return result


@pytest.fixture(scope="module")
def formgrader_pages(tmp_path_factory):
    """Formgrader pages of (1) fnn-grade's autograded copy with the hostile written answer,
    (2) the same answer as stock ``nbgrader autograde`` leaves it (the raw cell), and the
    template's own page with a plain answer as the baseline."""
    root = tmp_path_factory.mktemp("fg")
    subs.make_course_copy(root, ["forward_pass"])
    layout = notebook_io.load_layout(root, "forward_pass")
    pages = {}
    for name, answer in [("baseline", "A plain answer."), ("fnn_grade", HOSTILE_ANSWER)]:
        nb = gradebook.autograded_notebook(_with_answer(answer), layout)
        path = root / f"{name}.ipynb"
        path.write_text(json.dumps(nb), encoding="utf-8")
        pages[name] = formgrader_html(root, path)
    stock = subs.with_answers(subs.source_notebook("forward_pass", root),
                              {"written_zero_one": HOSTILE_ANSWER.replace("\ud800", "")})
    subs.nbformat.write(stock, root / "stock.ipynb")
    pages["stock_autograde"] = formgrader_html(root, root / "stock.ipynb")
    for name, page in pages.items():
        (root / f"{name}.html").write_text(page, encoding="utf-8")
    return root, pages


def test_autograded_copy_shows_the_written_answer_as_text(formgrader_pages):
    _, pages = formgrader_pages
    page = pages["fnn_grade"]
    assert active_content(page, pages["baseline"]) == []
    assert "pwned-script" in page  # the answer is there, as text
    assert "&lt;script&gt;document.title=&#x27;pwned-script&#x27;&lt;/script&gt;" in page \
        or "&lt;script&gt;document.title='pwned-script'&lt;/script&gt;" in page


def test_course_config_sanitises_answers_of_stock_autograde_too(formgrader_pages):
    _, pages = formgrader_pages
    assert active_content(pages["stock_autograde"], pages["baseline"]) == []
    assert "md link" in pages["stock_autograde"] and "pwned-script" in pages["stock_autograde"]


CLICK_ANSWER_LINKS = """() => {
    for (const a of document.querySelectorAll('a')) {
        const text = a.textContent.trim();
        if (text === 'click me' || text === 'md link' || (a.getAttribute('href') || '').includes('pwned'))
            a.click();
    }
}"""


def test_formgrader_escapes_a_student_id_it_would_print_raw(formgrader_pages):
    root, pages = formgrader_pages
    hostile = "<img src=x onerror=\"document.title='pwned'\">"
    page = formgrader_html(root, root / "baseline.ipynb", student=hostile)
    assert active_content(page, pages["baseline"]) == []
    assert "&lt;img src=x onerror=" in page  # shown as text


@pytest.mark.browser
@pytest.mark.parametrize("name", ["fnn_grade", "stock_autograde"])
def test_no_student_script_runs_in_a_real_browser(formgrader_pages, name):
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    root, _ = formgrader_pages
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=args)
        try:
            page = browser.new_page()
            page.route(re.compile(r"^(?!file:).*"), lambda route: route.abort())  # offline
            dialogs = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto((root / f"{name}.html").as_uri(), wait_until="load")
            page.wait_for_timeout(300)
            title_before = page.title()
            shown = page.evaluate("document.body.textContent").count("pwned-script")
            try:  # click every link of the answer, even on a page a style has hidden
                page.evaluate(CLICK_ANSWER_LINKS)
                page.wait_for_timeout(300)
                title = page.title()
                display = page.evaluate("getComputedStyle(document.body).display")
            except sync_api.Error as exc:  # a javascript: URL replaced the document
                title, display = f"pwned: navigated ({exc})", "?"
        finally:
            browser.close()
    assert "pwned" not in title_before, title_before
    assert shown == 1  # the answer is on the page, as text
    assert "pwned" not in title and not dialogs
    assert display != "none"


# --------------------------------------------------------------------------- the real command
needs_bwrap = pytest.mark.skipif(sandbox.bwrap_path() is None,
                                 reason="bubblewrap (bwrap) is not installed")


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    """A small class graded through ``fnn-grade grade``: a student whose notebook carries extra
    nbgrader cells with terminal escapes and a lone surrogate in their grade_ids and an
    exception message with a lone surrogate, a student id with HTML in it, one that is not
    UTF-8, and an honest student."""
    root = tmp_path_factory.mktemp("hostile")
    subs.make_course_copy(root, ["forward_pass"])
    src = subs.source_notebook("forward_pass", root)
    nb = subs.with_solutions(src, {"predict": (
        "def predict(y_hat, threshold=0.5):\n"
        "    raise ValueError('bad \\ud800 \\x1b[2J <script>alert(1)</script>')\n")})
    nb = subs.with_answers(nb, {"written_zero_one": HOSTILE_ANSWER})
    for gid in [SPOOF_GID, "lone\ud800surrogate"]:
        cell = subs.nbformat.v4.new_code_cell("x = 1")
        cell.metadata["nbgrader"] = {"grade_id": gid, "grade": False, "solution": False,
                                     "locked": False, "schema_version": 3}
        nb.cells.append(cell)
    text = json.dumps(nb, ensure_ascii=True)  # JSON carries the lone surrogate as \ud800
    subs.write_submission(root, "mallory", "forward_pass", text)
    subs.write_submission(root, "honest", "forward_pass", src)
    subs.write_submission(root, "<img src=x onerror=alert(1)>", "forward_pass", src)
    not_utf8 = b"not\xffutf8".decode("utf-8", "surrogateescape")  # how Python lists it
    subs.write_submission(root, not_utf8, "forward_pass", src)
    proc = run_cli(root, "grade", "forward_pass", "--timeout", "4")
    csv_path = root / "grades.csv"
    csv_path.write_text("student,score\nearlier,13\n")
    return root, proc, csv_path


@needs_bwrap
def test_grading_a_hostile_class_completes_with_exact_scores(hostile_class):
    root, proc, _ = hostile_class
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = load(root, "forward_pass")
    assert results["mallory"]["total"] == RUINED  # only predict's points are lost
    assert results["honest"]["total"] == FULL
    assert results["<img src=x onerror=alert(1)>"]["total"] == FULL
    # graded or a per-student grader error (the seed derivation is the engine's): either way
    # the batch went on and every output below must cope with the id
    assert results["not\udcffutf8"]["student"] == "not\udcffutf8"
    assert "not written to the gradebook" in proc.stderr and "not\\udcffutf8" in proc.stderr


@needs_bwrap
def test_hostile_class_summary_is_inert(hostile_class):
    _, proc, _ = hostile_class
    summary = proc.stdout
    assert not RAW_CONTROLS.search(summary), repr(RAW_CONTROLS.search(summary))
    assert "\\x1b[2J\\r\\x1b]0;title\\x07\\u202e" in summary
    assert "lone\\ud800surrogate" in summary
    assert "not\\udcffutf8" in summary


@needs_bwrap
def test_hostile_class_feedback_csv_and_gradescope_exports(hostile_class, tmp_path):
    root, _, csv_path = hostile_class
    proc = run_cli(root, "feedback", "forward_pass")
    assert proc.returncode == 0, proc.stderr
    assert "wrote 4 feedback pages" in proc.stdout
    page = (root / "feedback" / "mallory" / "forward_pass" / "forward_pass.html").read_bytes()
    page = page.decode("utf-8")
    assert not RAW_CONTROLS.search(page) and "<script>" not in page

    proc = run_cli(root, "export", "forward_pass", "--format", "csv", "-o", str(csv_path))
    assert proc.returncode == 0, proc.stderr
    text = csv_path.read_bytes().decode("utf-8")
    assert not RAW_CONTROLS.search(text.replace("\r\n", "\n"))
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(text))}
    assert float(rows["mallory"]["score"]) == RUINED and "earlier" not in rows
    assert "lone\\ud800surrogate" in rows["mallory"]["flags"]

    proc = run_cli(root, "export", "forward_pass", "--format", "gradescope", "-o",
                   str(tmp_path / "gs"))
    assert proc.returncode == 0, proc.stderr
    res = json.loads((tmp_path / "gs" / "mallory" / "results.json").read_bytes().decode("utf-8"))
    assert res["score"] == RUINED
    visible = [t for t in res["tests"] if t["name"].startswith("predict") and
               t["visibility"] == "visible"]
    assert visible and all("\\ud800" in t["output"] and "\\x1b[2J" in t["output"]
                           for t in visible)


@needs_bwrap
def test_hostile_class_autograded_copy_is_safe_for_formgrader(hostile_class):
    root, _, _ = hostile_class
    path = root / "autograded" / "mallory" / "forward_pass" / "forward_pass.ipynb"
    nb = json.loads(path.read_bytes().decode("utf-8"))
    json.dumps(nb, ensure_ascii=False).encode("utf-8")  # strict: no lone surrogate, even escaped
    baseline = formgrader_html(root, root / "autograded" / "honest" / "forward_pass"
                               / "forward_pass.ipynb")
    assert active_content(formgrader_html(root, path), baseline) == []
    assert not (root / "autograded" / "<img src=x onerror=alert(1)>").exists()
