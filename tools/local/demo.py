#!/usr/bin/env python3
"""make demo: submits a mix of jobs and a one-time schedule to the running local stack, follows
them until every one is terminal, then prints the stats and where each Job's log is.

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
            return json.load(response)
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {path}: HTTP {e.code}: {e.read().decode(errors='replace')}")
    except urllib.error.URLError as e:
        sys.exit(f"{base} is not reachable ({e.reason}). Start the local stack first: make up")


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
    expected = len(JOBS) + 1

    print(f"\nFollowing {expected} jobs (the scheduled one appears when it fires)…")
    deadline = time.time() + TIMEOUT_SECS
    last = ""
    while True:
        stats = call("GET", "/jobs/stats", echo=False)
        done = (stats["succeedJob"] - before["succeedJob"]) + (stats["failedJob"] - before["failedJob"])
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
    for job_id in ids:
        job = call("GET", f"/jobs/{job_id}", echo=False)
        print(f"{job_id:38} {job['job']:10} {job['status']:10} {job['attempts']}")
    after = call("GET", "/jobs/stats")
    print(json.dumps(after))
    delta = {k: after[k] - before[k] for k in ("succeedJob", "failedJob", "jobRetry", "submitted")}
    print(f"This demo: {delta['succeedJob']} succeeded, {delta['failedJob']} failed, {delta['jobRetry']} retries, "
          f"{delta['submitted']} submitted (the scheduled job included).")

    ctl = call("GET", "/state", echo=False, base=CONTROLLER)
    print(f"\nKubernetes-style Jobs: {ctl['totals']['jobsCreated']} created, {ctl['totals']['jobsSucceeded']} succeeded, "
          f"{ctl['totals']['jobsFailed']} failed (a failed attempt is a failed Job; the retry is a new Job).")
    print(f"Per-Job logs: {ctl['logsDir']}/ (the ScaledJob's history limits keep the newest "
          f"{ctl['successfulJobsHistoryLimit']} succeeded and {ctl['failedJobsHistoryLimit']} failed Jobs), e.g.")
    for job in [j for j in ctl["jobs"] if j.get("log")][:3]:
        print(f"  {job['log']}  ({job['phase']})")


if __name__ == "__main__":
    main()
