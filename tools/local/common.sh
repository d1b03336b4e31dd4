# Shared by up.sh, down.sh and demo.sh (sourced). Settings come from the environment (make passes them).
LOCAL_DIR=${LOCAL_DIR:-.local}
EMULATOR_PORT=${EMULATOR_PORT:-4566}
API_PORT=${API_PORT:-3000}
CONTROLLER_PORT=${CONTROLLER_PORT:-8089}

step() { printf '==> %s\n' "$*"; }

port_open() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# url_open URL: whether the host:port of an http(s) URL accepts a connection.
url_open() {
    local rest=${1#*://} default=80 host port
    [[ $1 == https://* ]] && default=443
    rest=${rest%%/*}
    host=${rest%:*}
    port=${rest##*:}
    [[ $host == "$rest" ]] && port=$default
    (: <"/dev/tcp/$host/$port") 2>/dev/null
}

# wait_for DESCRIPTION COMMAND...: retries COMMAND for up to 60 s.
wait_for() {
    local what=$1
    shift
    for _ in $(seq 600); do
        "$@" && return 0
        sleep 0.1
    done
    echo "$what did not come up within 60 s; see the logs in $LOCAL_DIR/" >&2
    return 1
}

# start_service NAME COMMAND...: runs COMMAND in its own session (so a Ctrl-C reaches only this
# script, which then stops the services in order), logs to $LOCAL_DIR/NAME.log, pid in NAME.pid.
start_service() {
    local name=$1
    shift
    setsid "$@" </dev/null >"$LOCAL_DIR/$name.log" 2>&1 &
    echo $! >"$LOCAL_DIR/$name.pid"
}

service_alive() {
    local pid
    pid=$(cat "$LOCAL_DIR/$1.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null
}

# stop_service NAME SECONDS: SIGTERM, then SIGKILL after SECONDS.
stop_service() {
    local name=$1 seconds=$2 pid
    pid=$(cat "$LOCAL_DIR/$name.pid" 2>/dev/null) || return 0
    if kill -TERM "$pid" 2>/dev/null; then
        for _ in $(seq $((seconds * 10))); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null && echo "  $name did not stop within ${seconds}s: killed" >&2
    fi
    rm -f "$LOCAL_DIR/$name.pid"
}

up_running() {
    local pid
    pid=$(cat "$LOCAL_DIR/up.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null
}

# state_field KEY: a top-level field of the controller's GET /state.
state_field() {
    python3 - "$CONTROLLER_PORT" "$1" <<'PY'
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/state", timeout=5) as r:
    print(json.load(r)[sys.argv[2]])
PY
}
