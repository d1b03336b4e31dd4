#!/usr/bin/env bash
# make test-external: the API and worker integration suites, and a short chaos run, against an AWS
# endpoint the test harness did not start (EMULATOR=external), the way a team runs them next to a
# LocalStack service container in CI.
#
#   EMULATOR_URL        the endpoint (e.g. http://127.0.0.1:4566); unset: a ministack started here,
#                       outside the harness, on a free port, and stopped at the end
#   EMULATOR_FEATURES   what it emulates beyond the APIs: schedule-firing, ttl, sqs-charset (comma list; a test
#                       that needs a missing one skips and says so). Default: both for the
#                       ministack started here, none for EMULATOR_URL.
#   CHAOS_JOBS          jobs in the chaos run (default 40)
#
# Every test creates its own uniquely named queue, DLQ, table and schedule group (one prefix per
# run) and deletes them when it ends. At the end, nothing with the run's prefix may be left on the
# endpoint; whatever a killed test left is deleted. make has built the binaries (BIN_DIR) and runs
# this under tools/with-skips.sh, which lists the tests that skipped and why.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BIN_DIR:?BIN_DIR (the cargo output directory) must be set; run make test-external}"

started=""
if [[ -z ${EMULATOR_URL:-} ]]; then
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    log=$(mktemp -t external-ministack.XXXXXX.log)
    echo "==> Starting ministack outside the test harness on 127.0.0.1:$port (log: $log)"
    setsid tools/local/ministack.sh "$port" </dev/null >"$log" 2>&1 &
    started=$!
    EMULATOR_URL=http://127.0.0.1:$port
    EMULATOR_FEATURES=${EMULATOR_FEATURES-schedule-firing,ttl,sqs-charset}
fi
prefix=ext$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')-
export EMULATOR=external AWS_ENDPOINT_URL=$EMULATOR_URL EMULATOR_FEATURES=${EMULATOR_FEATURES:-} \
       TEST_RESOURCE_PREFIX=$prefix \
       AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true

finish() {
    status=$?
    trap - EXIT
    # Whatever a killed or aborted test left behind.
    "$BIN_DIR/test-resources" --prefix "$prefix" --delete >/dev/null 2>&1 || true
    if [[ -n $started ]]; then
        kill -TERM "$started" 2>/dev/null && wait "$started" 2>/dev/null || true
    fi
    exit "$status"
}
trap finish EXIT

for _ in $(seq 300); do
    python3 - "$EMULATOR_URL" <<'PY' && break
import socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
try:
    socket.create_connection((u.hostname, u.port or (443 if u.scheme == "https" else 80)), timeout=1).close()
except OSError:
    sys.exit(1)
PY
    sleep 0.2
done
echo "==> The suites against $EMULATOR_URL (EMULATOR=external, features: ${EMULATOR_FEATURES:-none}, resources $prefix*)"

# The API (HTTP and the lambda_http path) and the worker (lifecycle, faults, reconciler, operations).
# --workspace, choosing targets: the same features as every other stage, so nothing is rebuilt.
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked --no-fail-fast --workspace \
        -E '(package(api-lambda) | package(data-processor)) & (binary(api) | binary(operations) | binary(tenants) | binary(lambda) | binary(worker) | binary(faults) | binary(reconcile) | binary(operate))'
else
    cargo test --locked --no-fail-fast --workspace \
        --test api --test operations --test tenants --test lambda --test worker --test faults --test reconcile --test operate
fi
CHAOS_JOBS=${CHAOS_JOBS:-40} cargo test --locked --workspace --test chaos -- --nocapture

echo "==> Resources left on $EMULATOR_URL by the run"
"$BIN_DIR/test-resources" --prefix "$prefix"
