#!/usr/bin/env bash
# make down: stops the local stack started by make up (from any terminal), and removes any Job
# container left behind. An emulator make up did not start (EMULATOR_URL) is left running, with
# its queue, table and jobs.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tools/local/common.sh
source tools/local/common.sh

if up_running; then
    pid=$(cat "$LOCAL_DIR/up.pid")
    echo "Stopping the local stack (make up, pid $pid)…"
    kill -TERM "$pid"
    # make up's own cleanup stops the controller (and its Jobs) first, then the rest.
    for _ in $(seq 900); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
fi
# Whatever is still recorded (make up was killed, or did not finish its cleanup).
for name in status controller api docker-api ministack; do
    stop_service "$name" 30
done
rm -f "$LOCAL_DIR/up.pid"
# Containers of the local ScaledJob controller that a crash may have left.
queue=$(cat "$LOCAL_DIR/queue-url" 2>/dev/null || echo "http://127.0.0.1:$EMULATOR_PORT/000000000000/keda-sqs-jobs")
for engine in docker podman; do
    command -v "$engine" >/dev/null 2>&1 || continue
    ids=$("$engine" ps -aq --filter label=io.keda-sqs-jobs.local/scaledjob \
        --filter "label=io.keda-sqs-jobs.local/queue=$queue" \
        2>/dev/null || true)
    if [[ -n $ids ]]; then
        echo "Removing leftover Job containers: $(echo "$ids" | wc -l)"
        # shellcheck disable=SC2086
        "$engine" rm -f $ids >/dev/null
    fi
done
rm -f "$LOCAL_DIR/queue-url"
echo "The local stack is down."
