#!/usr/bin/env bash
# make up: the whole system on this machine, in the foreground. Ctrl-C (or `make down` from another
# terminal) stops everything it started.
#
#   ministack (AWS APIs: SQS, DynamoDB, Scheduler) on 127.0.0.1:$EMULATOR_PORT, or the running
#     emulator at $EMULATOR_URL (LocalStack, a shared ministack), which make down leaves alone
#   provision: every pool's queues (normal, high, DLQ), table, schedule group, with the CDK stack's
#     attributes
#   api-lambda serving the job API on 127.0.0.1:$API_PORT
#   local-scaledjob: the local KEDA ScaledJob controller of every ScaledJob in keda/ (one per pool;
#     state on 127.0.0.1:$CONTROLLER_PORT). Jobs run as containers of $IMAGE (docker, or podman's
#     Docker API service) or as processes; it also runs the reconciler CronJob of
#     keda/cronjob.yaml (its first Job at once)
#
# make has already built the binaries (BIN_DIR) and installed ministack (.venv).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tools/local/common.sh
source tools/local/common.sh

: "${BIN_DIR:?BIN_DIR (the cargo output directory) must be set; run make up}"
EXECUTOR=${EXECUTOR:-auto}
# podman (CLI and API service) reads the project's runtime and ulimit settings.
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/tools/container/containers.conf}
IMAGE=${IMAGE:-localhost/keda-sqs-jobs/data-processor:dev}

if up_running; then
    echo "The local stack is already up (pid $(cat "$LOCAL_DIR/up.pid")). Stop it with: make down" >&2
    exit 1
fi
EMULATOR_URL=${EMULATOR_URL:-}
ports=("$API_PORT" "$CONTROLLER_PORT")
[[ -z $EMULATOR_URL ]] && ports+=("$EMULATOR_PORT")
for port in "${ports[@]}"; do
    if port_open "$port"; then
        echo "Port $port is in use. Free it, or choose others: make up EMULATOR_PORT=… API_PORT=… CONTROLLER_PORT=…" >&2
        exit 1
    fi
done
mkdir -p "$LOCAL_DIR/jobs"
rm -f "$LOCAL_DIR"/*.pid
echo $$ > "$LOCAL_DIR/up.pid"

cleanup() {
    trap - INT TERM EXIT
    [[ -n ${sleeper:-} ]] && kill "$sleeper" 2>/dev/null
    echo
    echo "Stopping the local stack…"
    stop_service status 2
    # The controller first: it sends SIGTERM to its Jobs (their messages go back to the queue),
    # waits for them, and removes their containers.
    stop_service controller 60
    stop_service api 10
    stop_service docker-api 10
    stop_service ministack 10
    rm -f "$LOCAL_DIR/up.pid"
    echo "Stopped. Logs are in $LOCAL_DIR/ (per-job logs in $LOCAL_DIR/jobs/)."
}
trap cleanup EXIT
# Ctrl-C and `make down` are the normal way to stop: exit 0 after the cleanup.
trap 'exit 0' INT TERM

# 1. How Jobs run: containers when an engine is usable (build the image), else processes.
docker_host=""
if [[ $EXECUTOR != process ]]; then
    if engine=$(tools/container/engine.sh 2>"$LOCAL_DIR/engine.log"); then
        step "Building the worker image $IMAGE with $engine (cached after the first build)"
        if IMAGE=$IMAGE LINT_DOCKERFILE=0 tools/container/image.sh >"$LOCAL_DIR/image-build.log" 2>&1; then
            if [[ $engine == podman ]]; then
                sock="$PWD/$LOCAL_DIR/podman.sock"
                rm -f "$sock"
                start_service docker-api podman system service --time=0 "unix://$sock"
                wait_for "the podman API socket" test -S "$sock"
                docker_host="unix://$sock"
            fi
        elif [[ $EXECUTOR == container ]]; then
            echo "The image build failed; see $LOCAL_DIR/image-build.log" >&2
            exit 1
        else
            echo "  the image build failed (see $LOCAL_DIR/image-build.log): Jobs run as processes"
            EXECUTOR=process
        fi
    elif [[ $EXECUTOR == container ]]; then
        cat "$LOCAL_DIR/engine.log" >&2
        exit 1
    else
        echo "  no usable container engine ($(tail -1 "$LOCAL_DIR/engine.log")): Jobs run as processes"
        EXECUTOR=process
    fi
fi

# 2. The AWS emulator, and the resources the CDK stack defines (existing ones are kept).
if [[ -n $EMULATOR_URL ]]; then
    step "Using the running emulator at $EMULATOR_URL (make down leaves it running)"
    wait_for "the emulator at $EMULATOR_URL" url_open "$EMULATOR_URL"
    AWS_ENDPOINT_URL=${EMULATOR_URL%/}
else
    step "Starting ministack on 127.0.0.1:$EMULATOR_PORT"
    start_service ministack tools/local/ministack.sh "$EMULATOR_PORT"
    wait_for "ministack" port_open "$EMULATOR_PORT"
    AWS_ENDPOINT_URL=http://127.0.0.1:$EMULATOR_PORT
fi
export AWS_ENDPOINT_URL AWS_REGION=us-east-1 \
       AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
step "Creating every pool's queues and dead-letter queue, the table and the schedule group (kept if they exist)"
eval "$("$BIN_DIR/provision")"
# make down removes leftover Job containers by this queue's label.
echo "$QUEUE_URL" >"$LOCAL_DIR/queue-url"
SCHEDULER_ROLE_ARN=arn:aws:iam::000000000000:role/keda-sqs-jobs-scheduler

# 3. The API.
step "Starting the API on 127.0.0.1:$API_PORT"
QUEUE_URL=$QUEUE_URL TABLE_NAME=$TABLE_NAME SCHEDULE_GROUP=$SCHEDULE_GROUP SCHEDULER_ROLE_ARN=$SCHEDULER_ROLE_ARN \
    BIND_ADDR=127.0.0.1:$API_PORT LOCAL_LOGS_DIR="$LOCAL_DIR/jobs" LOG_FORMAT=text \
    start_service api "$BIN_DIR/api-lambda"
wait_for "the API" port_open "$API_PORT"

# 4. The local ScaledJob controller: every ScaledJob (a pool each) and CronJob of keda/. The Jobs'
#    environment is the manifests', pointed at the emulator; their queues are the local ones of
#    the same pool and priority (named after QUEUE_URL).
step "Starting the local ScaledJob controller (every ScaledJob and the reconciler CronJob of keda/; executor: $EXECUTOR)"
args=(run --dir keda --start-cronjobs
      --queue-url "$QUEUE_URL" --executor "$EXECUTOR" --image "$IMAGE"
      --worker-bin "$BIN_DIR/data-processor" --logs-dir "$LOCAL_DIR/jobs"
      --state-addr "127.0.0.1:$CONTROLLER_PORT"
      --env "AWS_REGION=$AWS_REGION" --env "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL"
      --env AWS_ACCESS_KEY_ID=test --env AWS_SECRET_ACCESS_KEY=test --env AWS_EC2_METADATA_DISABLED=true
      --env "TABLE_NAME=$TABLE_NAME" --env LOG_FORMAT=text)
[[ -n $docker_host ]] && args+=(--docker-host "$docker_host")
[[ -n ${POLLING_INTERVAL:-} ]] && args+=(--polling-interval "$POLLING_INTERVAL")
LOG_FORMAT=text start_service controller "$BIN_DIR/local-scaledjob" "${args[@]}"
wait_for "the controller" port_open "$CONTROLLER_PORT"
executor=$(state_field executor)
# jobsctl, built with the rest: one directory to put on the PATH.
mkdir -p "$LOCAL_DIR/bin" && ln -sf "$BIN_DIR/jobsctl" "$LOCAL_DIR/bin/jobsctl"
local_bin=$(cd "$LOCAL_DIR/bin" && pwd)

cat <<EOF

The local stack is up (Jobs run as: $executor).

  API          http://127.0.0.1:$API_PORT          (OpenAPI: /openapi.json)
  controller   http://127.0.0.1:$CONTROLLER_PORT/state    (JSON: each pool's ScaledJob, its Jobs and last scaling decision; cronJobs)
  AWS emulator $AWS_ENDPOINT_URL   queue $QUEUE_URL
  logs         $LOCAL_DIR/{ministack,api,controller}.log, one file per Job in $LOCAL_DIR/jobs/

  dashboard    http://127.0.0.1:$API_PORT/
  jobsctl      $local_bin/jobsctl  (docs/jobsctl.md); in another terminal:
                 export PATH="$local_bin:\$PATH" JOBS_API_URL=http://127.0.0.1:$API_PORT

Try:
  jobsctl submit sleep --payload '{"ms":2000}' --wait
  jobsctl submit flaky --payload '{"failures":1}'
  jobsctl schedule create --cron "*/2 * * * *" --kind noop --name every-2-min
  jobsctl stats          (or: curl http://127.0.0.1:$API_PORT/jobs/stats)
  make demo      (a mix of jobs and a schedule, followed until all are done)

Ctrl-C or \`make down\` stops everything.

EOF

# 5. The status line, until Ctrl-C or `make down` (`wait` lets the traps run at once).
"$BIN_DIR/local-scaledjob" status --api "http://127.0.0.1:$API_PORT" --controller "http://127.0.0.1:$CONTROLLER_PORT" &
echo $! > "$LOCAL_DIR/status.pid"
emulator_alive() { if [[ -n $EMULATOR_URL ]]; then url_open "$EMULATOR_URL"; else service_alive ministack; fi; }
while service_alive controller && service_alive api && emulator_alive; do
    sleep 1 &
    sleeper=$!
    wait "$sleeper" || true
done
echo
for s in api controller; do
    service_alive "$s" || echo "$s stopped unexpectedly; see $LOCAL_DIR/$s.log" >&2
done
emulator_alive || echo "the emulator ${EMULATOR_URL:-ministack} stopped answering${EMULATOR_URL:+ (see $LOCAL_DIR/ministack.log)}" >&2
exit 1
