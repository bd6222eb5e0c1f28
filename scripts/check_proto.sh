#!/usr/bin/env bash
# Fails when the committed stubs in client/src/polybrief/v1 differ from a fresh generation.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
bash "$root/scripts/gen_proto.sh" "$tmp" >/dev/null
if ! diff -r -x __pycache__ "$tmp/polybrief/v1" "$root/client/src/polybrief/v1"; then
  echo "generated stubs are stale: run 'make proto' and commit the result" >&2
  exit 1
fi
echo "proto stubs are fresh"
