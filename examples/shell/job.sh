#!/bin/sh
# A shell job: a command kind in POSIX sh (see docs/kinds.md), the shape of a cron script moved
# here. The payload's top-level values arrive as JOB_ARG_<NAME> (JOB_ARG_SECONDS, ...); the whole
# payload is in JOB_PAYLOAD and the file JOB_PAYLOAD_FILE. Exit 64 is declared permanent in the
# config; 75 or any other non-zero code fails the attempt, which is retried.
set -eu

seconds=${JOB_ARG_SECONDS:-1}
exit_code=${JOB_ARG_EXITCODE:-0}
fail_attempts=${JOB_ARG_FAILATTEMPTS:-0}
result_bytes=${JOB_ARG_RESULTBYTES:-0}

if [ "${JOB_ARG_IGNORETERM:-false}" = true ]; then
  # Ignored signals stay ignored in what this script starts (sleep): only SIGKILL stops them.
  trap '' TERM
  echo "ignoring SIGTERM"
else
  trap 'echo "stopped by SIGTERM" >&2; exit 143' TERM
fi

echo "job $JOB_ID attempt $JOB_ATTEMPT: working for ${seconds}s"
if [ "$JOB_ATTEMPT" -le "$fail_attempts" ]; then
  echo "attempt $JOB_ATTEMPT fails on purpose (failAttempts=$fail_attempts)" >&2
  exit 75
fi

i=0
while [ "$i" -lt "$seconds" ]; do
  # In the background so that the trap runs as soon as SIGTERM arrives.
  sleep 1 &
  wait $! || true
  i=$((i + 1))
  echo "step $i of $seconds"
done

if [ -n "${JOB_ARG_MESSAGE:-}" ]; then echo "$JOB_ARG_MESSAGE" >&2; fi
if [ "$exit_code" -ne 0 ]; then exit "$exit_code"; fi

if [ "$result_bytes" -gt 0 ]; then
  # A result padded to the size asked for: over the bound it is not stored.
  { printf '{"pad":"'; head -c "$result_bytes" /dev/zero | tr '\0' x; printf '"}'; } > "$JOB_RESULT_FILE"
else
  printf '{"seconds":%s,"attempt":%s}\n' "$seconds" "$JOB_ATTEMPT" > "$JOB_RESULT_FILE"
fi
echo "done"
