#!/usr/bin/env python3
"""make demo: submits a mix of jobs and a one-time schedule to the running local stack, cancels a
long job while it runs, follows them until every one is terminal, retries the failed one, pauses
and changes a schedule, lists jobs, then prints the stats, an attempt history and where each Job's
log is.

Every API call goes through `jobsctl` (JOBSCTL, built by make demo), echoed as the command a person
would type; the demo reads its `--json` answers. Only the standard library besides: it runs with
the system's python3. The controller's own `GET /state` is read directly.
"""

import datetime
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request

API = f"http://127.0.0.1:{os.environ.get('API_PORT', '3000')}"
CONTROLLER = f"http://127.0.0.1:{os.environ.get('CONTROLLER_PORT', '8089')}"
JOBSCTL = os.environ.get("JOBSCTL", "jobsctl")
TIMEOUT_SECS = int(os.environ.get("DEMO_TIMEOUT_SECS", "300"))
TTY = sys.stdout.isatty()

JOBS = [
    ("noop", {}),
    ("sleep", {"ms": 3000}),
    ("aggregate", {"records": 200000, "seed": 7}),
    ("flaky", {"failures": 2}),
    ("fail", {"message": "this job always fails (demo)"}),
    ("sleep", {"ms": 1000}),
    ("noop", {}),
]
# Cancelled while it runs: the worker sees the request within seconds and stops it.
LONG = ("sleep", {"ms": 600000})


def run_jobsctl(args, machine=True, echo=True, ok=(0,)):
    """Runs jobsctl ARGS against the local API (with --json when `machine`): (exit code, stdout)."""
    if echo:
        print(f"$ jobsctl {shlex.join(args)}")
    env = {**os.environ, "JOBS_API_URL": API}
    if os.environ.get("API_TOKEN"):
        env["JOBS_API_TOKEN"] = os.environ["API_TOKEN"]
    argv = [JOBSCTL, *(["--json"] if machine else []), *args]
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECS + 60)
    except FileNotFoundError:
        sys.exit(f"{JOBSCTL} not found: run make demo (it builds jobsctl), or set JOBSCTL")
    if done.returncode not in ok:
        sys.exit(f"jobsctl {shlex.join(args)}: exit {done.returncode}: {done.stderr.strip()}")
    return done.returncode, done.stdout


def ctl(*args, echo=True, ok=(0,)):
    """`jobsctl --json ARGS`: its JSON answer (None if it printed none)."""
    _, out = run_jobsctl(list(args), echo=echo, ok=ok)
    return json.loads(out) if out.strip() else None


def controller_state():
    try:
        with urllib.request.urlopen(f"{CONTROLLER}/state", timeout=10) as response:
            return json.load(response)
    except urllib.error.URLError as e:
        sys.exit(f"{CONTROLLER} is not reachable ({e}). Start the local stack first: make up")


def wait_for(job_id, statuses):
    deadline = time.time() + TIMEOUT_SECS
    while ctl("get", job_id, echo=False)["status"] not in statuses:
        if time.time() > deadline:
            sys.exit(f"job {job_id} did not reach {'/'.join(statuses)} within {TIMEOUT_SECS} s")
        time.sleep(0.5)


def main():
    before = ctl("stats", echo=False)
    state = controller_state()
    print(f"Jobs run as: {state['executor']} · scaling: {state['strategy']['strategy']}, "
          f"polling every {state['pollingIntervalSecs']} s, at most {state['maxReplicaCount']} Jobs\n")

    ids = []
    for kind, payload in JOBS:
        answer = ctl("submit", kind, "--payload", json.dumps(payload, separators=(",", ":")))
        print(f"  → {answer['jobId']} {answer['status']}")
        ids.append(answer["jobId"])

    # A one-time schedule ~15 s from now (UTC); ministack fires schedules up to ~10 s late.
    at = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=15)).strftime("%Y-%m-%dT%H:%M:%S")
    name = f"demo-{int(time.time())}"
    schedule = ctl("schedule", "create", "--cron", f"at({at})", "--name", name, "--kind", "noop")
    print(f"  → schedule {schedule['name']}: {schedule['expression']} (UTC), deletes itself after firing")
    long = ctl("submit", LONG[0], "--payload", json.dumps(LONG[1], separators=(",", ":")))["jobId"]
    print(f"  → {long} (a 10-minute sleep, to cancel)")
    expected = len(JOBS) + 2
    wait_for(long, ("RUNNING",))
    asked = time.time()
    answer = ctl("cancel", long)
    print(f"  → {answer['status']}, cancel requested at {answer['cancelRequestedAt']}")
    wait_for(long, ("CANCELLED",))
    print(f"  → CANCELLED {time.time() - asked:.1f} s after the request")

    print(f"\nFollowing {expected} jobs (the scheduled one appears when it fires)…")
    deadline = time.time() + TIMEOUT_SECS
    last = ""
    while True:
        stats = ctl("stats", echo=False)
        done = sum(stats[k] - before[k] for k in ("succeedJob", "failedJob", "cancelled", "skipped"))
        jobs_state = controller_state()
        line = (f"terminal {done}/{expected} │ queued {stats['queued']} │ in flight {stats['inFlight']} │ "
                f"Jobs running {jobs_state['running']} │ succeeded +{stats['succeedJob'] - before['succeedJob']} │ "
                f"failed +{stats['failedJob'] - before['failedJob']} │ retries +{stats['jobRetry'] - before['jobRetry']}")
        if TTY:
            print(f"\r\x1b[2K{line}", end="", flush=True)
        elif line != last:
            print(line, flush=True)
        last = line
        if done >= expected and jobs_state["running"] == 0:
            break
        if time.time() > deadline:
            print()
            sys.exit(f"not every job finished within {TIMEOUT_SECS} s; see the controller's state: {CONTROLLER}/state")
        time.sleep(1)
    print("\n")

    code, table = run_jobsctl(["watch", *ids, long], machine=False, ok=(0, 1))
    print(table.rstrip())
    print(f"(exit {code}: {'every job SUCCEEDED' if code == 0 else 'not every job SUCCEEDED'})")

    print("\nThe flaky job's attempt history:")
    flaky = ctl("get", ids[3])
    for run in flaky["attemptHistory"]:
        print(f"  attempt {run['attempt']}: {run['outcome']:9} {run['durationMs']:>5} ms on {run['worker']} "
              f"(logs: {run['logs']}){' - ' + run['error'] if run['error'] else ''}")

    print("\nRetry the failed job (a new job, linked to the old one):")
    failed = ids[4]
    retry = ctl("retry", failed)
    # It fails again (the kind always does): watch exits 1.
    ctl("watch", retry["jobId"], "--timeout", str(TIMEOUT_SECS), ok=(0, 1))
    new = ctl("get", retry["jobId"], echo=False)
    print(f"  → {new['jobId']} retryOf {new['retryOf']}: {new['status']} after {new['attempts']} attempts")
    page = ctl("list", "--status", "FAILED", "--limit", "5")
    print(f"  → FAILED jobs, newest first: {[j['jobId'] for j in page['jobs']]} (nextCursor {page['nextCursor']})")

    print("\nPause, change and resume a schedule:")
    weekly = f"demo-weekly-{int(time.time())}"
    ctl("schedule", "create", "--cron", "0 7 * * MON", "--name", weekly, "--kind", "noop", "--overlap", "forbid")
    paused = ctl("schedule", "pause", weekly)
    print(f"  → {paused['state']}, next fire times {paused['nextFireTimes']}")
    ctl("schedule", "update", weekly, "--cron", "30 6 * * FRI", "--timezone", "Europe/Berlin")
    changed = ctl("schedule", "resume", weekly)
    print(f"  → {changed['state']} {changed['expression']} {changed['timezone']}, next {changed['nextFireTimes'][0]}")
    ctl("schedule", "delete", weekly)
    kinds = ctl("kinds")
    print(f"  kinds: {', '.join(k['name'] + ' (' + str(k['policy']['maxAttempts']) + ' attempts)' for k in kinds['kinds'])}")

    after = ctl("stats")
    print(json.dumps(after))
    delta = {k: after[k] - before[k] for k in ("succeedJob", "failedJob", "jobRetry", "submitted", "cancelled")}
    print(f"This demo: {delta['succeedJob']} succeeded, {delta['failedJob']} failed, {delta['cancelled']} cancelled, "
          f"{delta['jobRetry']} retries, {delta['submitted']} submitted (the scheduled job and the retry included).")

    final = controller_state()
    print(f"\nKubernetes-style Jobs: {final['totals']['jobsCreated']} created, {final['totals']['jobsSucceeded']} succeeded, "
          f"{final['totals']['jobsFailed']} failed (a failed attempt is a failed Job; the retry is a new Job).")
    print(f"Per-Job logs: {final['logsDir']}/ (the ScaledJob's history limits keep the newest "
          f"{final['successfulJobsHistoryLimit']} succeeded and {final['failedJobsHistoryLimit']} failed Jobs), e.g.")
    for job in [j for j in final["jobs"] if j.get("log")][:3]:
        print(f"  {job['log']}  ({job['phase']})")


if __name__ == "__main__":
    main()
