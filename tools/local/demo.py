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

# (kind, payload, options): each kind runs in its own pool (`jobsctl kinds`, `jobsctl pools`):
# sleep in long, aggregate in large, ping in short (drained), the others in default; report
# (Python) and shell are command kinds, each with a ScaledJob of its own running its image. The
# command kinds run for a customer, tenant `acme` (docs/tenants.md); the rest for the caller.
JOBS = [
    ("noop", {}, []),
    ("sleep", {"ms": 3000}, []),
    ("aggregate", {"records": 200000, "seed": 7}, []),
    ("flaky", {"failures": 2}, []),
    ("fail", {"message": "this job always fails (demo)"}, []),
    ("sleep", {"ms": 1000}, ["--priority", "high"]),
    ("noop", {}, []),
    ("ping", {"tag": "demo"}, []),
    ("report", {"campaign": "spring-sale", "channels": ["email", "push"], "days": 7}, ["--tenant", "acme"]),
    ("shell", {"seconds": 2, "message": "nightly cleanup done"}, ["--tenant", "acme"]),
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


TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED", "SKIPPED")


def scheduled_job(schedule):
    """The job the schedule's firing created, once it has fired (None before)."""
    page = ctl("list", "--schedule", schedule, "--limit", "1", echo=False)
    return page["jobs"][0]["jobId"] if page["jobs"] else None


def wait_for(job_id, statuses):
    deadline = time.time() + TIMEOUT_SECS
    while ctl("get", job_id, echo=False)["status"] not in statuses:
        if time.time() > deadline:
            sys.exit(f"job {job_id} did not reach {'/'.join(statuses)} within {TIMEOUT_SECS} s")
        time.sleep(0.5)


def main():
    state = controller_state()
    print(f"Jobs run as: {state['executor']}; one ScaledJob per pool, and per command kind (its own image):")
    for sj in state["scaledJobs"]:
        print(f"  {sj['scaledJob']}: scaling {sj['strategy']['strategy']}, polling every {sj['pollingIntervalSecs']} s, "
              f"at most {sj['maxReplicaCount']} Jobs")
    print()

    ids = []
    _, pools = run_jobsctl(["pools"], machine=False)
    print(pools)
    for kind, payload, options in JOBS:
        answer = ctl("submit", kind, "--payload", json.dumps(payload, separators=(",", ":")), *options)
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

    print(f"\nFollowing this demo's {expected} jobs (the scheduled one appears when it fires)…")
    deadline = time.time() + TIMEOUT_SECS
    last = ""
    fired = None
    while True:
        fired = fired or scheduled_job(name)
        mine = [*ids, long, *([fired] if fired else [])]
        statuses = [ctl("get", job_id, echo=False)["status"] for job_id in mine]
        done = sum(s in TERMINAL for s in statuses)
        tally = " │ ".join(f"{s} {statuses.count(s)}" for s in sorted(set(statuses)))
        # The controller's count covers every Job, this demo's and any other's.
        line = f"terminal {done}/{expected} │ {tally} │ Jobs running (all) {controller_state()['running']}"
        if TTY:
            print(f"\r\x1b[2K{line}", end="", flush=True)
        elif line != last:
            print(line, flush=True)
        last = line
        if done == expected:
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

    report = ctl("get", ids[8], echo=False)
    print(f"\nThe report command kind (python3 report.py) wrote its result: {json.dumps(report['result'])[:160]}…")
    acme = ctl("list", "--tenant", "acme", "--limit", "5")["jobs"]
    print(f"  → tenant acme's newest jobs: {[(j['jobId'], j['job'], j['status']) for j in acme]}")
    assert {ids[8], ids[9]} <= {j["jobId"] for j in acme}, acme

    print("\nA tenant's limit, changed at run time (docs/tenants.md): at most one of its jobs at once:")
    tenant = f"demo-{int(time.time())}"
    ctl("tenants", "set", tenant, "--max-running", "1")
    first = ctl("submit", "sleep", "--payload", '{"ms":2000}', "--tenant", tenant)
    second = ctl("submit", "noop", "--tenant", tenant)
    print(f"  → {first['jobId']} {first['status']}; {second['jobId']} {second['status']} (over its maxRunning 1: no pod yet)")
    assert (first["status"], second["status"]) == ("QUEUED", "WAITING"), (first, second)
    _, table = run_jobsctl(["tenants", "get", tenant], machine=False)
    print(table.rstrip())
    limited = [first["jobId"], second["jobId"]]
    ctl("watch", *limited, "--timeout", str(TIMEOUT_SECS))
    one, two = (ctl("get", job_id, echo=False) for job_id in limited)
    print(f"  → the second started {two['firstStartedAt']}, after the first ended {one['finishedAt']}: admitted when its slot freed")
    assert two["firstStartedAt"] >= one["finishedAt"], (one, two)
    ctl("tenants", "reset", tenant)

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

    print("\nEvery job on this API (the demo's and any other's):")
    print(json.dumps(ctl("stats")))
    # This demo's own jobs, from their records: other jobs running meanwhile are not counted.
    mine = [ctl("get", job_id, echo=False) for job_id in [*ids, long, fired, retry["jobId"], *limited]]
    count = lambda status: sum(j["status"] == status for j in mine)
    retries = sum(max(j["attempts"] - 1, 0) for j in mine)
    print(f"This demo: {count('SUCCEEDED')} succeeded, {count('FAILED')} failed, {count('CANCELLED')} cancelled, "
          f"{retries} retries, {len(mine)} submitted (the scheduled job, the retry and the limited tenant's two included).")

    final = controller_state()
    print(f"\nKubernetes-style Jobs: {final['totals']['jobsCreated']} created, {final['totals']['jobsSucceeded']} succeeded, "
          f"{final['totals']['jobsFailed']} failed (a failed attempt is a failed Job; the retry is a new Job); per pool:")
    for sj in final["scaledJobs"]:
        t = sj["totals"]
        print(f"  {sj['scaledJob']}: {t['jobsCreated']} created, {t['jobsSucceeded']} succeeded, {t['jobsFailed']} failed")
    first = final["scaledJobs"][0]
    print(f"Per-Job logs: {first['logsDir']}/, kept as long as the job records that link them (each ScaledJob's "
          f"history limits keep the newest {first['successfulJobsHistoryLimit']} succeeded and "
          f"{first['failedJobsHistoryLimit']} failed Jobs; the logs stay). Each run's log is also at "
          f"GET /jobs/{{id}}/runs/{{n}}/log and behind the dashboard's log links, e.g.")
    for job in [j for j in final["jobs"] if j.get("log")][:3]:
        print(f"  {job['log']}  ({job['phase']})")


if __name__ == "__main__":
    main()
