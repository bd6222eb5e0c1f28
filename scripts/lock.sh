#!/usr/bin/env bash
# Refreshes requirements.lock: every runtime and development dependency of proto/,
# client/ and service/ (plus requirements-dev.txt), resolved in a fresh virtualenv and
# pinned exactly. Run it after changing a dependency (`make lock`), then commit the lock.
#
# pip, not uv or poetry: torch is pinned to 2.13.0, which pip finds as the CPU build on
# these machines' local wheel directory; the others would resolve a multi-GB CUDA build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PY:-python3}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$py" -m venv "$tmp/venv"
pip=("$tmp/venv/bin/python" -m pip)
"${pip[@]}" install -q --upgrade pip
"${pip[@]}" install -q torch==2.13.0
"${pip[@]}" install -q -r "$root/requirements-dev.txt"
"${pip[@]}" install -q --no-build-isolation "$root/proto" "$root/client" "$root/service"
{
  echo "# Pinned runtime and development dependencies of polybrief (made by scripts/lock.sh;"
  echo "# refresh with 'make lock'). make install installs exactly these, then the three"
  echo "# polybrief packages in editable mode without dependencies."
  echo "# torch is pinned without its local label: pip then takes the CPU build where one is"
  echo "# offered (these machines' wheel directory, or --extra-index-url of a CPU index)."
  "${pip[@]}" freeze --all --exclude-editable \
    | grep -v -E '^(polybrief-(proto|client|service) @|pip==)' \
    | sed -E 's/^torch==([0-9.]+)\+cpu$/torch==\1/' \
    | LC_ALL=C sort -f
} >"$root/requirements.lock"
echo "wrote $root/requirements.lock ($(grep -c '==' "$root/requirements.lock") pins)"
