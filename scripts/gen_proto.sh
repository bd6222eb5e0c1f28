#!/usr/bin/env bash
# Regenerates the Python stubs of proto/polybrief/v1 into client/src (or into $1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/client/src}
python -m grpc_tools.protoc -I "$root/proto" \
  --python_out="$out" --mypy_out="$out" \
  --grpc_python_out="$out" --mypy_grpc_out="$out" \
  "$root"/proto/polybrief/v1/*.proto
touch "$out/polybrief/v1/__init__.py"
