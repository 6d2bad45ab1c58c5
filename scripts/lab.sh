#!/usr/bin/env bash
# Starts JupyterLab on the learner's workspace, bound to loopback only, and prints the URL of lecture 1.
#
# The workspace is a git-ignored working folder (default: workspace/ in the repository) that holds
# the learner's own copies: workspace/lectures/ (copied from lectures/) and workspace/assignments/
# (copied from the student versions in release/). JupyterLab serves only the workspace, so opening,
# running and autosaving a notebook never writes into a tracked file. A copy is made only when it
# does not exist yet: a learner's notes and outputs are never overwritten.
#
#   bash scripts/lab.sh                        start JupyterLab (PORT=8890 for another port)
#   bash scripts/lab.sh reset 03_forward_pass  replace one lecture copy by a fresh one (the old
#                                              copy is kept next to it as <name>.<time>.bak.ipynb)
#   bash scripts/lab.sh prepare                only copy what is missing into the workspace
#   bash scripts/lab.sh instructor             serve the repository itself (editing the sources,
#                                              Formgrader); here saving DOES change tracked files
#   bash scripts/lab.sh [--jupyter-option ...] extra options go to `jupyter lab` unchanged
#
# Environment: PORT (8888), JUPYTER_TOKEN (random), WORKSPACE (workspace).
set -euo pipefail
cd "$(dirname "$0")/.."
workspace="${WORKSPACE:-workspace}"
first="lectures/01_perceptron_to_deep_fnn.ipynb"

prepare() {
  mkdir -p "$workspace/lectures" "$workspace/assignments"
  local nb
  for nb in lectures/*.ipynb; do
    [ -e "$workspace/$nb" ] || cp "$nb" "$workspace/$nb"
  done
  local dir
  for dir in release/*/; do  # student copies written by `make student`, if any
    [ -d "$dir" ] || continue
    [ -e "$workspace/assignments/$(basename "$dir")" ] || cp -r "$dir" "$workspace/assignments/"
  done
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
echo "Fresh copy of one lecture: make reset-lecture NB=03_forward_pass"
# the server runs from the repository root, so nbgrader_config.py here is still read
exec .venv/bin/jupyter lab "${args[@]}" "$@"
