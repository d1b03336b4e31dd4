#!/usr/bin/env bash
# make test-local: the local stack (docs/local-stack.md), driven as a user would. `make up` (in the background,
# on free ports), `make demo` (which must end with the exact expected stats), the dashboard in headless
# chromium (tools/browser/dashboard.test.mjs), `make down`; then
# `make up` again, stopped with SIGINT (Ctrl-C); then twice `make up EMULATOR_URL=…` against a
# ministack started here: a job recorded by the first is still there in the second (provisioning
# kept it), and `make down` leaves that emulator running. After each stop: no process, no container
# of the stack left.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${BIN_DIR:?run through make test-local}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export EMULATOR_PORT=$(free_port) API_PORT=$(free_port) CONTROLLER_PORT=$(free_port)
export LOCAL_DIR=.local-smoke POLLING_INTERVAL=2
rm -rf "$LOCAL_DIR"
out=$(mktemp)
fail() {
    echo "smoke: $*" >&2
    echo "--- make up output:" >&2
    cat "$out" >&2
    echo "--- controller log (last 30 lines):" >&2
    tail -30 "$LOCAL_DIR/controller.log" >&2 || true
    tools/local/down.sh >&2 || true
    # Again, last: CI shows an output's tail.
    echo "smoke: FAILED: $*" >&2
    exit 1
}

start_up() {
    : >"$out"
    # A background job of a script starts with SIGINT ignored; a terminal's `make up` does not.
    # Restore the default so the Ctrl-C case below is the real one.
    setsid python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
        tools/local/up.sh >"$out" 2>&1 &
    up_pid=$!
    for _ in $(seq 1800); do
        grep -q "The local stack is up" "$out" && return 0
        kill -0 "$up_pid" 2>/dev/null || fail "make up exited early"
        sleep 0.5
    done
    fail "make up did not come up within 15 minutes"
}

check_clean() {
    local pids=""
    for f in "$LOCAL_DIR"/*.pid; do
        [[ -e $f ]] || continue
        pids+=" $(cat "$f")"
    done
    [[ -z ${pids// /} ]] || fail "pid files left: $(ls "$LOCAL_DIR"/*.pid)"
    if pgrep -f "local-scaledjob run .*--state-addr 127.0.0.1:$CONTROLLER_PORT" >/dev/null; then fail "controller still runs"; fi
    # The API and every worker have this queue in their environment.
    local queue="${1:-http://127.0.0.1:$EMULATOR_PORT}/000000000000/keda-sqs-jobs"
    left=$(grep -lsza "^QUEUE_URL=$queue" /proc/[0-9]*/environ || true)
    [[ -z $left ]] || fail "processes left: $left"
    for port in "$EMULATOR_PORT" "$API_PORT" "$CONTROLLER_PORT"; do
        ! (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null || fail "port $port still listens"
    done
    for engine in docker podman; do
        command -v "$engine" >/dev/null 2>&1 || continue
        left=$("$engine" ps -aq --filter "label=io.keda-sqs-jobs.local/queue=$queue" 2>/dev/null || true)
        [[ -z $left ]] || fail "containers left: $left"
    done
}

echo "smoke: make up (ports $EMULATOR_PORT/$API_PORT/$CONTROLLER_PORT)"
start_up
grep -E "^The local stack is up" "$out"
echo "smoke: make demo"
demo=$(JOBSCTL="$BIN_DIR/jobsctl" python3 tools/local/demo.py) || { echo "$demo"; fail "make demo failed"; }
echo "$demo" | tail -24
echo "$demo" | grep -q "This demo: 12 succeeded, 2 failed, 1 cancelled, 6 retries, 15 submitted" || fail "unexpected demo stats"
echo "smoke: the dashboard in headless chromium"
chromium=$(tools/browser/chromium.sh) || fail "no chromium for the browser test"
browser_out=${BROWSER_OUT:-.test-output/browser}
DASHBOARD_URL="http://127.0.0.1:$API_PORT/" CHROMIUM="$chromium" OUT_DIR="$browser_out" \
    node tools/browser/dashboard.test.mjs || fail "the dashboard's browser test failed (screenshots in $browser_out)"
echo "smoke: the same through jobsctl ui (the page's calls forwarded with its session token)"
ui_port=$(free_port)
ui_out=$(mktemp)
"$BIN_DIR/jobsctl" --api "http://127.0.0.1:$API_PORT" ui --listen "127.0.0.1:$ui_port" >"$ui_out" 2>&1 &
ui_pid=$!
for _ in $(seq 100); do grep -q "^Dashboard: " "$ui_out" && break; sleep 0.1; done
ui_url=$(sed -n 's/^Dashboard: //p' "$ui_out")
[[ -n $ui_url ]] || { kill "$ui_pid" 2>/dev/null; fail "jobsctl ui printed no URL: $(cat "$ui_out")"; }
DASHBOARD_URL="http://127.0.0.1:$ui_port/" API_TOKEN="${ui_url#*token=}" CHROMIUM="$chromium" OUT_DIR="$browser_out/jobsctl-ui" BROWSER_QUICK=1 \
    node tools/browser/dashboard.test.mjs || { kill "$ui_pid"; fail "the dashboard through jobsctl ui failed"; }
kill -TERM "$ui_pid"
wait "$ui_pid" || fail "jobsctl ui did not stop cleanly on SIGTERM"
echo "smoke: make down"
tools/local/down.sh
wait "$up_pid" 2>/dev/null || true
check_clean

echo "smoke: make up again, then Ctrl-C (SIGINT)"
start_up
kill -INT "$up_pid"
for _ in $(seq 900); do kill -0 "$up_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$up_pid" 2>/dev/null && fail "make up did not stop on SIGINT"
grep -q "Stopped." "$out" || fail "make up did not run its cleanup"
check_clean

ext_port=$(free_port)
ext_url=http://127.0.0.1:$ext_port
echo "smoke: make up EMULATOR_URL=$ext_url (a ministack make up did not start), twice"
setsid tools/local/ministack.sh "$ext_port" </dev/null >"$LOCAL_DIR/external-ministack.log" 2>&1 &
ext_pid=$!
trap 'kill "$ext_pid" 2>/dev/null || true' EXIT
api="http://127.0.0.1:$API_PORT"
job_status() { curl -sf "$api/jobs/$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])'; }
EMULATOR_URL=$ext_url EXECUTOR=process start_up
grep -q "Using the running emulator at $ext_url" "$out" || fail "make up did not use EMULATOR_URL"
job=$(curl -sf -X POST "$api/jobs" -d '{"job":"noop"}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["jobId"])')
for _ in $(seq 120); do [[ $(job_status "$job") == SUCCEEDED ]] && break; sleep 0.5; done
[[ $(job_status "$job") == SUCCEEDED ]] || fail "job $job did not succeed against $ext_url"
EMULATOR_URL=$ext_url tools/local/down.sh
wait "$up_pid" 2>/dev/null || true
kill -0 "$ext_pid" 2>/dev/null && (: <"/dev/tcp/127.0.0.1/$ext_port") 2>/dev/null || fail "make down stopped the external emulator"
check_clean "$ext_url"
EMULATOR_URL=$ext_url EXECUTOR=process start_up
[[ $(job_status "$job") == SUCCEEDED ]] || fail "the second make up did not keep job $job"
submitted=$(curl -sf "$api/jobs/stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["submitted"])')
[[ $submitted == 1 ]] || fail "stats after the second make up: submitted $submitted, want 1"
EMULATOR_URL=$ext_url tools/local/down.sh
wait "$up_pid" 2>/dev/null || true
kill -0 "$ext_pid" 2>/dev/null || fail "make down stopped the external emulator"
check_clean "$ext_url"
kill "$ext_pid"
echo "smoke: the external emulator kept job $job and its counters across two make up; make down left it running"
rm -rf "$LOCAL_DIR" "$out"
echo "smoke: ok"
