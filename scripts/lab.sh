#!/usr/bin/env bash
# Starts JupyterLab on the course, bound to loopback only, and prints the URL of lecture 1.
#   PORT=8890 bash scripts/lab.sh      (default port 8888)
set -euo pipefail
cd "$(dirname "$0")/.."
port="${PORT:-8888}"
first="lectures/01_perceptron_to_deep_fnn.ipynb"
token="${JUPYTER_TOKEN:-$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(24))')}"
args=(
  --ip=127.0.0.1 --port="$port" --no-browser
  --ServerApp.root_dir="$PWD"
  --IdentityProvider.token="$token"
  --ServerApp.default_url="/lab/tree/$first"
)
[ "$(id -u)" -eq 0 ] && args+=(--allow-root)
echo "JupyterLab for the course (stop it with Ctrl-C). Open lecture 1 at:"
echo "    http://127.0.0.1:${port}/lab/tree/${first}?token=${token}"
exec .venv/bin/jupyter lab "${args[@]}"
