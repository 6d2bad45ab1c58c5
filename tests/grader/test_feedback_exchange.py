"""Feedback pages reach students through nbgrader's real exchange, in either order with stock
``nbgrader generate_feedback``, and nothing is deleted.

One term in a temporary exchange, through nbgrader's command line: the instructor generates
and releases forward_pass; two students (each a folder with its own nbgrader config and cache,
all as the same OS user) fetch it, answer and submit; the instructor collects, grades with
``fnn-grade grade``, grades a written answer by hand, and makes feedback: for bob stock
``generate_feedback`` runs first, then ``fnn-grade feedback`` for the class, then stock
``generate_feedback`` again; ``release_feedback``; each student runs ``fetch_feedback``.
"""
from __future__ import annotations

import html
import sys
from pathlib import Path

import pytest

from autograder.cases.tasks import get_spec
from autograder.outputs import exports, feedback
from autograder.sandbox import launcher as sandbox
from tests import submissions as subs
from tests.grader.conftest import load, run_cli

pytestmark = pytest.mark.skipif(sandbox.bwrap_path() is None,
                                reason="bubblewrap (bwrap) is not installed")

ASSIGNMENT = "forward_pass"
COURSE_ID = "fnn-course"
WRONG_PREDICT = "def predict(*args, **kwargs):\n    raise ValueError('not done')\n"


def _config(exchange: Path, cache: Path) -> str:
    return (f"\nc = get_config()\nc.CourseDirectory.course_id = {COURSE_ID!r}\n"
            f"c.Exchange.root = {str(exchange)!r}\nc.Exchange.cache = {str(cache)!r}\n")


def files_under(folder: Path) -> set[str]:
    """Relative paths of every file under ``folder``."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    top = tmp_path_factory.mktemp("term")
    exchange = top / "exchange"
    root = subs.make_course_copy(top / "course", [ASSIGNMENT])
    with open(root / "nbgrader_config.py", "a") as fh:
        fh.write(_config(exchange, top / "cache-instructor"))
    subs.run_nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")
    subs.run_nbgrader(root, "release_assignment", ASSIGNMENT)

    homes = {}
    cells = exports.grade_cells(root, ASSIGNMENT)
    written = [gid for gid, cell in cells.items() if cell["manual"]]
    answers = {"alice": subs.solution_code(ASSIGNMENT),
               "bob": dict(subs.solution_code(ASSIGNMENT), predict=WRONG_PREDICT)}
    for student, code in answers.items():
        home = homes[student] = top / student
        home.mkdir()
        (home / "nbgrader_config.py").write_text(_config(exchange, top / f"cache-{student}"))
        subs.run_nbgrader(home, "fetch_assignment", ASSIGNMENT)
        path = home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        nb = subs.with_solutions(subs.nbformat.read(path, as_version=4), code)
        nb = subs.with_answers(nb, {gid: f"My answer, {student}." for gid in written})
        subs.nbformat.write(nb, path)
        subs.run_nbgrader(home, "submit", ASSIGNMENT, "--student", student)
    subs.run_nbgrader(root, "collect", ASSIGNMENT)

    proc = run_cli(root, "grade", ASSIGNMENT, "--jobs", "2", "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]

    sys.modules.setdefault("rfc3987_syntax", None)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        grade = gb.find_grade(written[0], ASSIGNMENT, ASSIGNMENT, "alice")
        grade.manual_score = 1.5
        gb.db.commit()

    subs.run_nbgrader(root, "generate_feedback", ASSIGNMENT, "--student", "bob")  # before
    nbgrader_page = (root / "feedback" / "bob" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    before = {name: files_under(root / name)
              for name in ("submitted", "autograded", "grading", "feedback")}
    proc = run_cli(root, "feedback", ASSIGNMENT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    subs.run_nbgrader(root, "generate_feedback", ASSIGNMENT)  # after: skips both students
    after = {name: files_under(root / name) for name in before}
    subs.run_nbgrader(root, "release_feedback", ASSIGNMENT)
    for student, home in homes.items():
        subs.run_nbgrader(home, "fetch_feedback", ASSIGNMENT, "--student", student)
    return {"root": root, "homes": homes, "before": before, "after": after,
            "nbgrader_page": nbgrader_page, "results": load(root, ASSIGNMENT),
            "full": sum(cell["max"] for cell in cells.values()),
            "written_max": sum(cells[gid]["max"] for gid in written), "written": written}


def fetched_page(home: Path) -> str:
    pages = sorted((home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
    assert len(pages) == 1, pages
    return pages[0].read_text(encoding="utf-8")


def test_each_student_fetches_their_own_page_with_their_scores(term):
    results, full, spec = term["results"], term["full"], get_spec(ASSIGNMENT)
    alice_total, bob_total = results["alice"]["total"], results["bob"]["total"]
    assert alice_total == results["alice"]["max_total"] == spec.max_score
    assert bob_total < spec.max_score
    alice, bob = fetched_page(term["homes"]["alice"]), fetched_page(term["homes"]["bob"])
    assert feedback.GENERATOR in alice and feedback.GENERATOR in bob
    assert "Student: alice." in alice and "Student: bob." in bob
    # alice: every autograded point + 1.5 by hand; bob's written answers are not graded yet
    waiting = len(term["written"])
    assert f"Score: <b>{alice_total + 1.5:g} / {full:g}</b>" in alice
    assert f"written answers 1.5 / {term['written_max']:g} graded by hand" in alice
    assert f"Score: <b>{bob_total:g} / {full:g}</b>" in bob
    assert f"{waiting} not graded yet" in bob
    for case in results["bob"]["cases"]:
        assert html.escape(case["name"]) in bob


def test_nbgraders_page_made_first_is_kept_and_shown_inside(term):
    folder = term["root"] / "feedback" / "bob" / ASSIGNMENT
    kept = folder / f".{ASSIGNMENT}.nbgrader.html"
    assert kept.read_text() == term["nbgrader_page"]
    page = fetched_page(term["homes"]["bob"])
    assert "<iframe sandbox " in page and html.escape(term["nbgrader_page"][:200]) in page
    assert "<iframe" not in fetched_page(term["homes"]["alice"])  # nothing to embed


def test_nothing_is_deleted_and_release_feedback_finds_what_it_reads(term):
    for name, files in term["before"].items():
        assert files <= term["after"][name], name
    for student in ("alice", "bob"):
        folder = term["root"] / "feedback" / student / ASSIGNMENT
        submitted = term["root"] / "submitted" / student / ASSIGNMENT
        for name in feedback.CARRIED_FILES:
            assert (folder / name).read_text() == (submitted / name).read_text()


def test_the_embedded_page_shows_in_chromium_and_runs_nothing(term, tmp_path):
    import shutil

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "bob.html"
    page_file.write_text(fetched_page(term["homes"]["bob"]), encoding="utf-8")
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=args)
        try:
            page = browser.new_page()
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_file.as_uri())
            page.wait_for_timeout(300)
            frames = [f for f in page.frames if f.url == "about:srcdoc"]
            assert len(frames) == 1
            shown = frames[0].evaluate("document.body.innerText")
            ran = frames[0].evaluate("typeof window.MathJax")
        finally:
            browser.close()
    assert "predict" in shown  # nbgrader's view of the notebook
    assert ran == "undefined"  # its scripts did not run
    assert requests == [page_file.as_uri()]  # nothing else was loaded


def test_a_second_run_keeps_nbgraders_page_and_carries_only_small_plain_files(tmp_path):
    result = {"assignment": ASSIGNMENT, "student": "bob", "total": 1.0, "max_total": 2.0,
              "cases": [], "flags": [], "graded_at": "2026-12-01T10:00:00+00:00"}
    folder = tmp_path / "feedback" / "bob" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / f"{ASSIGNMENT}.html").write_text("<html><body>nbgrader's view</body></html>")
    submitted = tmp_path / "submitted" / "bob" / ASSIGNMENT
    submitted.mkdir(parents=True)
    (tmp_path / "private.txt").write_text("not the student's")
    (submitted / "timestamp.txt").symlink_to(tmp_path / "private.txt")
    (submitted / "submission_secret.txt").write_text("x" * (feedback.MAX_CARRIED_BYTES + 1))
    for _ in range(2):
        [page] = feedback.write_feedback(tmp_path, [result])
        text = page.read_text()
        assert page.name == f"{ASSIGNMENT}.html" and text.startswith("<!DOCTYPE html>")
        assert html.escape("<html><body>nbgrader's view</body></html>", quote=True) in text
    assert (folder / f".{ASSIGNMENT}.nbgrader.html").read_text() == (
        "<html><body>nbgrader's view</body></html>")
    # neither is copied: the folder gets the time of grading and a fresh secret instead
    assert (folder / "timestamp.txt").read_text() == result["graded_at"]
    secret = (folder / "submission_secret.txt").read_text()
    assert len(secret) == 128 and "x" not in secret
