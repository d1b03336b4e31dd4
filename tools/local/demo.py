#!/usr/bin/env python3
"""make demo: submits a mix of jobs and a one-time schedule to the running local stack, cancels a
long job while it runs, follows them until every one is terminal, retries the failed one, pauses
and changes a schedule, lists jobs, then prints the stats, an attempt history and where each Job's
log is.

Only the standard library: it runs with the system's python3. Each request is echoed as the
equivalent curl command.
"""

import datetime
import json
import os
import sys
import time
import urllib.error
import urllib.request

API = f"http://127.0.0.1:{os.environ.get('API_PORT', '3000')}"
CONTROLLER = f"http://127.0.0.1:{os.environ.get('CONTROLLER_PORT', '8089')}"
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
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED", "SKIPPED")


def call(method, path, body=None, echo=True, base=API):
    data = None if body is None else json.dumps(body).encode()
    if echo:
        shown = f" -d '{json.dumps(body, separators=(',', ':'))}'" if body is not None else ""
        flag = f"-X {method} " if method != "GET" else ""
        print(f"$ curl {flag}{base}{path}{shown}")
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if os.environ.get("API_TOKEN") and base == API:
        request.add_header("Authorization", f"Bearer {os.environ['API_TOKEN']}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response) if response.status != 204 else None
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {path}: HTTP {e.code}: {e.read().decode(errors='replace')}")
    except urllib.error.URLError as e:
        sys.exit(f"{base} is not reachable ({e.reason}). Start the local stack first: make up")


def wait_for(job_id, statuses):
    deadline = time.time() + TIMEOUT_SECS
    while call("GET", f"/jobs/{job_id}", echo=False)["status"] not in statuses:
        if time.time() > deadline:
            sys.exit(f"job {job_id} did not reach {'/'.join(statuses)} within {TIMEOUT_SECS} s")
        time.sleep(0.5)


def main():
    before = call("GET", "/jobs/stats", echo=False)
    state = call("GET", "/state", echo=False, base=CONTROLLER)
    print(f"Jobs run as: {state['executor']} · scaling: {state['strategy']['strategy']}, "
          f"polling every {state['pollingIntervalSecs']} s, at most {state['maxReplicaCount']} Jobs\n")

    ids = []
    for kind, payload in JOBS:
        answer = call("POST", "/jobs", {"job": kind, "payload": payload})
        print(f"  → {answer['jobId']} {answer['status']}")
        ids.append(answer["jobId"])

    # A one-time schedule ~15 s from now (UTC); ministack fires schedules up to ~10 s late.
    at = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=15)).strftime("%Y-%m-%dT%H:%M:%S")
    name = f"demo-{int(time.time())}"
    schedule = call("POST", "/jobs/schedule", {"cron": f"at({at})", "name": name, "job": "noop"})
    print(f"  → schedule {schedule['name']}: {schedule['expression']} (UTC), deletes itself after firing")
    long = call("POST", "/jobs", {"job": LONG[0], "payload": LONG[1]})["jobId"]
    print(f"  → {long} (a 10-minute sleep, to cancel)")
    expected = len(JOBS) + 2
    wait_for(long, ("RUNNING",))
    asked = time.time()
    answer = call("POST", f"/jobs/{long}/cancel")
    print(f"  → {answer['status']}, cancel requested at {answer['cancelRequestedAt']}")
    wait_for(long, ("CANCELLED",))
    print(f"  → CANCELLED {time.time() - asked:.1f} s after the request")

    print(f"\nFollowing {expected} jobs (the scheduled one appears when it fires)…")
    deadline = time.time() + TIMEOUT_SECS
    last = ""
    while True:
        stats = call("GET", "/jobs/stats", echo=False)
        done = sum(stats[k] - before[k] for k in ("succeedJob", "failedJob", "cancelled", "skipped"))
        ctl = call("GET", "/state", echo=False, base=CONTROLLER)
        line = (f"terminal {done}/{expected} │ queued {stats['queued']} │ in flight {stats['inFlight']} │ "
                f"Jobs running {ctl['running']} │ succeeded +{stats['succeedJob'] - before['succeedJob']} │ "
                f"failed +{stats['failedJob'] - before['failedJob']} │ retries +{stats['jobRetry'] - before['jobRetry']}")
        if TTY:
            print(f"\r\x1b[2K{line}", end="", flush=True)
        elif line != last:
            print(line, flush=True)
        last = line
        if done >= expected and ctl["running"] == 0:
            break
        if time.time() > deadline:
            print()
            sys.exit(f"not every job finished within {TIMEOUT_SECS} s; see the controller's state: {CONTROLLER}/state")
        time.sleep(1)
    print("\n")

    print(f"{'job id':38} {'kind':10} {'status':10} attempts")
    for job_id in ids + [long]:
        job = call("GET", f"/jobs/{job_id}", echo=False)
        print(f"{job_id:38} {job['job']:10} {job['status']:10} {job['attempts']}")

    print("\nThe flaky job's attempt history:")
    flaky = call("GET", f"/jobs/{ids[3]}")
    for run in flaky["attemptHistory"]:
        print(f"  attempt {run['attempt']}: {run['outcome']:9} {run['durationMs']:>5} ms on {run['worker']} "
              f"(logs: {run['logs']}){' - ' + run['error'] if run['error'] else ''}")

    print("\nRetry the failed job (a new job, linked to the old one):")
    failed = ids[4]
    retry = call("POST", f"/jobs/{failed}/retry")
    wait_for(retry["jobId"], TERMINAL)
    new = call("GET", f"/jobs/{retry['jobId']}", echo=False)
    print(f"  → {new['jobId']} retryOf {new['retryOf']}: {new['status']} after {new['attempts']} attempts")
    page = call("GET", "/jobs?status=FAILED&limit=5")
    print(f"  → FAILED jobs, newest first: {[j['jobId'] for j in page['jobs']]} (nextCursor {page['nextCursor']})")

    print("\nPause, change and resume a schedule:")
    weekly = f"demo-weekly-{int(time.time())}"
    call("POST", "/jobs/schedule", {"cron": "0 7 * * MON", "name": weekly, "job": "noop", "overlap": "forbid"})
    paused = call("PATCH", f"/jobs/schedules/{weekly}", {"state": "DISABLED"})
    print(f"  → {paused['state']}, next fire times {paused['nextFireTimes']}")
    changed = call("PATCH", f"/jobs/schedules/{weekly}", {"state": "ENABLED", "cron": "30 6 * * FRI", "timezone": "Europe/Berlin"})
    print(f"  → {changed['state']} {changed['expression']} {changed['timezone']}, next {changed['nextFireTimes'][0]}")
    call("DELETE", f"/jobs/schedules/{weekly}")
    kinds = call("GET", "/jobs/kinds")
    print(f"  kinds: {', '.join(k['name'] + ' (' + str(k['policy']['maxAttempts']) + ' attempts)' for k in kinds['kinds'])}")

    after = call("GET", "/jobs/stats")
    print(json.dumps(after))
    delta = {k: after[k] - before[k] for k in ("succeedJob", "failedJob", "jobRetry", "submitted", "cancelled")}
    print(f"This demo: {delta['succeedJob']} succeeded, {delta['failedJob']} failed, {delta['cancelled']} cancelled, "
          f"{delta['jobRetry']} retries, {delta['submitted']} submitted (the scheduled job and the retry included).")

    ctl = call("GET", "/state", echo=False, base=CONTROLLER)
    print(f"\nKubernetes-style Jobs: {ctl['totals']['jobsCreated']} created, {ctl['totals']['jobsSucceeded']} succeeded, "
          f"{ctl['totals']['jobsFailed']} failed (a failed attempt is a failed Job; the retry is a new Job).")
    print(f"Per-Job logs: {ctl['logsDir']}/ (the ScaledJob's history limits keep the newest "
          f"{ctl['successfulJobsHistoryLimit']} succeeded and {ctl['failedJobsHistoryLimit']} failed Jobs), e.g.")
    for job in [j for j in ctl["jobs"] if j.get("log")][:3]:
        print(f"  {job['log']}  ({job['phase']})")


if __name__ == "__main__":
    main()
