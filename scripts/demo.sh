#!/usr/bin/env bash
# Starts a polybrief server, briefs the example article into en, fr and ru, stops it.
# POLYBRIEF_CATALOG picks the catalogue (default: the shipped one of real models, read
# from the Hugging Face cache). With the default catalogue and the hub reachable, the
# models the demo uses are pulled first (with progress bars; cached ones are not fetched
# again); offline, it serves what the cache holds and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
server=polybrief-server  # the server's own command (polybrief-service); `polybrief` is the client
demo_models="distilbart-cnn-12-6 opus-mt-en-fr opus-mt-en-ru"  # the en summariser, en→fr, en→ru

if [ -z "${POLYBRIEF_CATALOG:-}" ]; then
  if python -c 'import sys; from polybrief.service.models.pull import hub_reachable; sys.exit(0 if hub_reachable(5) else 1)'; then
    echo "== hub reachable: $server models pull $demo_models"
    # shellcheck disable=SC2086  # the ids are meant to split
    if ! "$server" models pull $demo_models; then
      echo "== some models could not be pulled (see above); the demo serves what the cache holds"
    fi
  else
    echo "== hub not reachable (offline): serving only what is in the Hugging Face cache; \`$server models pull $demo_models\` fetches the models"
  fi
fi

port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp -t polybrief-demo.XXXXXX.log)
echo "== starting $server serve on 127.0.0.1:$port (log: $log)"
"$server" serve --port "$port" >"$log" 2>&1 &
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
