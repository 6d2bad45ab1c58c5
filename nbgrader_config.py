"""nbgrader configuration of fnn-course. The course root is the repository root.

Instructor workflow (run from the repository root)::

    nbgrader generate_assignment forward_pass      # release/forward_pass/ for students
    # collect submissions into submitted/<student>/forward_pass/forward_pass.ipynb
    nbgrader autograde forward_pass
    nbgrader generate_feedback forward_pass        # feedback/<student>/forward_pass/*.html
    nbgrader export                                # grades.csv

Formgrader (JupyterLab: Nbgrader > Formgrader) and the Validate button read this same file.
"""
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearMarkScheme,
                                    ClearOutput, DeduplicateIds, GetGrades,
                                    NbGraderPreprocessor,
                                    OverwriteCells, OverwriteKernelspec)

c = get_config()  # noqa: F821 (provided by traitlets when this file is loaded)

c.CourseDirectory.course_id = "fnn-course"
c.CourseDirectory.source_directory = "assignments"

# Per-cell time limit while autograding. The slowest honest cell trains the digits classifier
# (about 1 s with the reference solution, a few seconds with a slow but correct student
# version); 60 s leaves room for a loaded machine yet stops an infinite loop within a minute
# (nbgrader's default of 30 s is too tight when many submissions are graded in parallel).
c.ExecutePreprocessor.timeout = 60
c.Execute.timeout = 60

# Formgrader and nbgrader's feedback render notebooks with nbconvert's HTMLExporter. Sanitise
# what they render: outputs through nbconvert's own sanitiser (sanitize_html), and markdown
# cells (written answers) through a markdown filter that keeps only inert tags and http(s)/mailto
# URLs: Formgrader's template renders nbgrader cells without nbconvert's sanitiser, so without
# this filter a student's <script> would run with the instructor's Jupyter session.
# Its template also prints the student's id and name unescaped: a preprocessor escapes them.
c.HTMLExporter.sanitize_html = True
c.HTMLExporter.filters = {"markdown2html": "autograder.outputs.sanitize.markdown2html"}
c.HTMLExporter.preprocessors = ["autograder.outputs.sanitize.EscapeStudentNames"]

# What students see in place of a solution region: a hint instead of a bare NotImplementedError.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\n"
              "raise NotImplementedError(\"Write this function (see its docstring for the shapes), "
              "then run the test cell below.\")"
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# A deleted or retyped test cell is restored from the source and graded, instead of staying
# "needs manual grade" forever; the class keeps being graded.
c.OverwriteCells.add_missing_cells = True


class DropEmptyNbgraderMetadata(NbGraderPreprocessor):
    """After ``DeduplicateIds``: turn the emptied copies of a duplicated cell into plain cells.

    ``DeduplicateIds`` keeps the last cell of a duplicated grade_id and sets the metadata of the
    others to ``{}``, which nbgrader 0.9.6 then rejects (``KeyError: 'grade_id'`` with
    ``add_missing_cells``, or "old version of the nbgrader metadata format" for the whole batch).
    Removing the empty entry leaves an ordinary cell, and the submission is graded normally.
    """

    def preprocess_cell(self, cell, resources, index):
        if "nbgrader" in cell.metadata and not cell.metadata["nbgrader"]:
            del cell.metadata["nbgrader"]
        return cell, resources


c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    DeduplicateIds,
    DropEmptyNbgraderMetadata,
    OverwriteKernelspec,
    OverwriteCells,
    CheckCellMetadata,
]


class ReduceGradeCellErrors(NbGraderPreprocessor):
    """Feedback shows a failed test cell's error as ``ename: evalue`` only.

    A traceback quotes the source line that failed, which for a hidden test is hidden-test code;
    the error's message (written for the student by ``autograder.checks``) is kept.
    """

    def preprocess_cell(self, cell, resources, index):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


# Feedback: grades, then hidden tests removed from the cell source, then tracebacks reduced.
c.GenerateFeedback.preprocessors = [
    GetGrades,
    ClearHiddenTests,
    ClearMarkScheme,  # rubrics and model answers stay with the graders
    ReduceGradeCellErrors,
    CSSHTMLHeaderPreprocessor,
]


# ---------------------------------------------------------------------------- local exchange
# `make lab` (scripts/lab.sh) releases every assignment to a local exchange, the git-ignored
# folder .exchange/ next to this file; learners fetch and submit with the Assignments tab
# (their side is configured by the nbgrader_config.py that scripts/lab.sh writes into the
# workspace) and `nbgrader collect <assignment>` here brings the submissions into submitted/.
import os as _os  # noqa: E402

# traitlets sets __file__ when it loads this file; code that executes it without a file name
# gets the working directory instead
_course_root = _os.path.dirname(_os.path.abspath(globals().get("__file__", "nbgrader_config.py")))
c.Exchange.root = _os.path.join(_course_root, ".exchange")

# An assignment folder holds its graded cases (cases.py) next to the source notebook: they stay
# on the instructor's side and never reach the student release.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "cases.py"]
