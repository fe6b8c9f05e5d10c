#!/usr/bin/env bash
# Makes a Python virtual environment at $1 with the tools in requirements.txt (the OpenAPI
# validator and a client generator). Exits 0 when they are there (already or now), 3 when
# Python, venv or the package index cannot be had here, 1 on any other failure.
set -uo pipefail
venv=${1:?usage: setup.sh VENV}
here=$(cd "$(dirname "$0")" && pwd)
stamp="$venv/.fangyi-requirements"
if [ -x "$venv/bin/python" ] && cmp -s "$here/requirements.txt" "$stamp"; then
    exit 0
fi
command -v python3 >/dev/null || { echo "setup.sh: no python3" >&2; exit 3; }
rm -rf "$venv"
python3 -m venv "$venv" >&2 || { echo "setup.sh: python3 cannot make a venv (Debian: apt-get install python3-venv)" >&2; exit 3; }
if ! "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt" >&2; then
    echo "setup.sh: pip could not install $here/requirements.txt (no network?)" >&2
    rm -rf "$venv"
    exit 3
fi
cp "$here/requirements.txt" "$stamp"
