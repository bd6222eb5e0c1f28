#!/usr/bin/env bash
# Starts a polybrief server, briefs the example article into en, fr and ru, stops it.
# POLYBRIEF_CATALOG picks the catalogue (default: the shipped one of real models, read
# from the Hugging Face cache; nothing is downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."
port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp -t polybrief-demo.XXXXXX.log)
echo "== starting polybrief on 127.0.0.1:$port (log: $log)"
polybrief serve --port "$port" >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
if ! polybrief health --server "127.0.0.1:$port" --wait 300; then
  echo "server did not become ready; its log:" >&2; cat "$log" >&2; exit 1
fi
echo "== polybrief brief examples/afp-putin-hollande.txt --to en,fr,ru"
rc=0
polybrief brief examples/afp-putin-hollande.txt --to en,fr,ru --server "127.0.0.1:$port" || rc=$?
if [ "$rc" -eq 3 ]; then
  echo "== some briefs could not be produced with the models installed here (see above)."
elif [ "$rc" -ne 0 ]; then
  exit "$rc"
fi
echo "== demo finished; stopping the server"
