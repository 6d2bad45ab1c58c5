#!/usr/bin/env bash
# Starts JupyterLab on the learner's workspace, bound to loopback only, and prints the URL of lecture 1.
#
# The workspace is a git-ignored working folder (default: workspace/ in the repository) that holds
# the learner's own copies. JupyterLab serves only the workspace, so opening, running and
# autosaving a notebook never writes into a tracked file.
#
#   workspace/lectures/       copies of lectures/, made when missing (notes and outputs are kept)
#   workspace/<assignment>/   an assignment fetched with the Assignments tab (Nbgrader > Assignments)
#
# Assignments go through a local nbgrader exchange, the git-ignored folder .exchange/ of the
# repository. Before serving, every assignment of the course is generated (nbgrader
# generate_assignment, into release/) and released (nbgrader release_assignment) to the exchange
# as the instructor; an assignment whose source did not change since its last release is left
# alone. The Assignments tab then lists the released assignments, fetches one into
# workspace/<assignment>/ and submits it to the exchange. A fetched copy belongs to the learner:
# nothing here (nor Formgrader's Generate, which rewrites release/) ever overwrites it.
#
#   bash scripts/lab.sh                        prepare, then start JupyterLab (PORT=8890 for another port)
#   bash scripts/lab.sh prepare                only prepare: release changed assignments, write the
#                                              workspace's nbgrader config, copy missing lectures
#   bash scripts/lab.sh release                only generate and release changed assignments
#   bash scripts/lab.sh reset 03_forward_pass  replace one lecture copy by a fresh one (the old
#                                              copy is kept next to it as <name>.<time>.bak.ipynb)
#   bash scripts/lab.sh instructor             serve the repository itself (editing the sources,
#                                              Formgrader); here saving DOES change tracked files
#   bash scripts/lab.sh [--jupyter-option ...] extra options go to `jupyter lab` unchanged
#
# Environment: PORT (8888), JUPYTER_TOKEN (random), WORKSPACE (workspace), RELEASE_ASSIGNMENTS
# (1; 0 skips generating and releasing, e.g. for a lectures-only session: the Assignments tab then
# lists what the exchange already holds).
set -euo pipefail
cd "$(dirname "$0")/.."
course="$PWD"
workspace="${WORKSPACE:-workspace}"
first="lectures/01_perceptron_to_deep_fnn.ipynb"
course_id="fnn-course"       # as c.CourseDirectory.course_id in nbgrader_config.py
exchange="$course/.exchange" # as c.Exchange.root in nbgrader_config.py
# nbgrader's database migrations (alembic) must be found on PATH
export PATH="$course/.venv/bin:$PATH"

assignment_names() {
  .venv/bin/python -c 'import sys
from autograder.cases.tasks import list_assignments
print("\n".join(list_assignments(sys.argv[1])))' "$course"
}

# A fingerprint of everything a release is made from: the assignment's folder and the
# instructor's nbgrader_config.py (its stubs and ignore settings shape the release).
source_hash() {
  {
    find "assignments/$1" -type f ! -path '*/.ipynb_checkpoints/*' ! -path '*/__pycache__/*' \
      -print0 | sort -z | xargs -0 sha256sum
    sha256sum nbgrader_config.py
  } | sha256sum | cut -d' ' -f1
}

# Generate and release every assignment whose source changed since its last release.
# --force is given only when there is an older release to replace; it replaces release/<name>/
# and the exchange's outbound copy, never a learner's fetched copy or a submission.
release() {
  local stamps="$exchange/.released" outbound="$exchange/$course_id/outbound"
  local name hash force
  for name in $(assignment_names); do
    hash="$(source_hash "$name")"
    if [ -d "$outbound/$name" ] && [ "$(cat "$stamps/$name" 2>/dev/null || true)" = "$hash" ]; then
      continue
    fi
    echo "Releasing $name to the local exchange ($exchange)"
    force=()
    [ -d "release/$name" ] && force=(--force)
    if ! nbgrader generate_assignment "$name" "${force[@]}" --log-level=WARN; then
      echo "warning: could not generate $name; the exchange keeps its previous release" >&2
      continue
    fi
    force=()
    [ -d "$outbound/$name" ] && force=(--force)
    if ! nbgrader release_assignment "$name" "${force[@]}" --log-level=WARN; then
      echo "warning: could not release $name to $exchange" >&2
      continue
    fi
    mkdir -p "$stamps"
    echo "$hash" > "$stamps/$name"
  done
}

# The learner's side of the exchange: nbgrader's Assignments tab reads nbgrader_config.py from
# the folder JupyterLab serves. Written on every start (it holds no learner data).
write_student_config() {
  local home
  home="$(cd "$workspace" && pwd)"
  cat > "$workspace/nbgrader_config.py" <<EOF
"""nbgrader settings of this workspace, written by scripts/lab.sh (changes here are overwritten).

The Assignments tab (Nbgrader > Assignments) lists the assignments released to the course's
local exchange, fetches one into this folder (<assignment>/) and submits it back.
"""
c = get_config()  # noqa: F821 (provided by traitlets when this file is loaded)
c.CourseDirectory.course_id = "$course_id"
c.Exchange.root = "$exchange"
c.Exchange.assignment_dir = "$home"
c.Exchange.cache = "$home/.nbgrader_cache"
EOF
}

prepare() {
  mkdir -p "$workspace/lectures"
  local nb
  for nb in lectures/*.ipynb; do
    [ -e "$workspace/$nb" ] || cp "$nb" "$workspace/$nb"
  done
  [ "${RELEASE_ASSIGNMENTS:-1}" = 0 ] || release
  write_student_config
  if [ -d "$workspace/assignments" ]; then
    echo "note: $workspace/assignments/ holds copies made by an older version of this script;" \
         "they are kept, but new work goes into $workspace/<assignment>/ (Nbgrader > Assignments > Fetch)"
  fi
}

reset_lecture() {
  local name="${1:-}"
  name="${name%.ipynb}"
  name="${name##*/}"
  if [ -z "$name" ] || [ ! -f "lectures/$name.ipynb" ]; then
    echo "usage: bash scripts/lab.sh reset <lecture>, one of:" >&2
    ls lectures | sed 's/\.ipynb$//; s/^/    /' >&2
    exit 2
  fi
  mkdir -p "$workspace/lectures"
  local copy="$workspace/lectures/$name.ipynb"
  if [ -e "$copy" ]; then
    local kept="$workspace/lectures/$name.$(date +%Y%m%d-%H%M%S).bak.ipynb"
    mv "$copy" "$kept"
    echo "your previous copy is kept as $kept"
  fi
  cp "lectures/$name.ipynb" "$copy"
  echo "fresh copy: $copy"
}

root=""
case "${1:-}" in
  reset) reset_lecture "${2:-}"; exit 0 ;;
  prepare) prepare; exit 0 ;;
  release) release; exit 0 ;;
  instructor) shift; root="$PWD" ;;
esac

if [ -z "$root" ]; then
  prepare
  root="$(cd "$workspace" && pwd)"
fi
port="${PORT:-8888}"
token="${JUPYTER_TOKEN:-$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(24))')}"
args=(
  --ip=127.0.0.1 --port="$port" --no-browser
  --ServerApp.root_dir="$root"
  --IdentityProvider.token="$token"
  --ServerApp.default_url="/lab/tree/$first"
)
[ "$(id -u)" -eq 0 ] && args+=(--allow-root)
echo "JupyterLab on $root (stop it with Ctrl-C). Open lecture 1 at:"
echo "    http://127.0.0.1:${port}/lab/tree/${first}?token=${token}"
if [ "$root" != "$PWD" ]; then
  echo "Assignments: Nbgrader > Assignments, then Fetch; you work in $workspace/<assignment>/."
  echo "Grade your copy: make check NB=$workspace/<assignment>/<assignment>.ipynb"
fi
echo "Fresh copy of one lecture: make reset-lecture NB=03_forward_pass"
# nbgrader's Assignments tab reads nbgrader_config.py from the served folder (the workspace's,
# written above, for a learner); Validate reads the course's own, from the server's working
# directory (the repository root), and so does Formgrader, which works with `instructor` only
exec .venv/bin/jupyter lab "${args[@]}" "$@"
