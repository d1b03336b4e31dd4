#!/usr/bin/env python3
"""A campaign report: a command kind in Python (see docs/kinds.md).

The worker runs it with the job contract in its environment: JOB_ID, JOB_ATTEMPT, JOB_KIND,
JOB_PAYLOAD_FILE (the payload, checked against the kind's schema) and JOB_RESULT_FILE (where the
report goes). Exit 0 succeeds; exit 3 (declared permanent in the config) fails the job at once;
exit 75 or any other code fails the attempt, which is retried. What goes to stderr ends up in
the job's lastError; every line goes to the pod's log, tagged with the job id.
"""

import hashlib
import json
import os
import signal
import sys
import time

CAMPAIGN_NOT_FOUND = 3  # permanent: no retry can make the campaign exist
TEMPORARY = 75  # EX_TEMPFAIL: try again later
ALL_CHANNELS = ["email", "push", "sms", "web"]


def stop(signum, _frame):
    # The worker sends SIGTERM on cancel, on its own stop and at the time limit.
    print(f"stopped by signal {signum} before the report was written", file=sys.stderr, flush=True)
    sys.exit(128 + signum)


def events(campaign, channel, day):
    """Deterministic stand-in for a warehouse query: sends, opens and clicks of one day."""
    digest = hashlib.sha256(f"{campaign}/{channel}/{day}".encode()).digest()
    sends = 1000 + int.from_bytes(digest[:2], "big") % 9000
    opens = sends * (10 + digest[2] % 40) // 100
    clicks = opens * (5 + digest[3] % 20) // 100
    return sends, opens, clicks


def main():
    signal.signal(signal.SIGTERM, stop)
    with open(os.environ["JOB_PAYLOAD_FILE"], encoding="utf-8") as f:
        params = json.load(f)
    attempt = int(os.environ["JOB_ATTEMPT"])
    campaign = params["campaign"]
    channels = params.get("channels", ALL_CHANNELS)
    days = params.get("days", 7)
    print(f"report for campaign {campaign}: {len(channels)} channels, {days} days (attempt {attempt})", flush=True)

    if attempt <= params.get("failAttempts", 0):
        print(f"the warehouse is busy (attempt {attempt}); try again", file=sys.stderr, flush=True)
        return TEMPORARY
    if campaign.startswith("missing-"):
        print(f"campaign {campaign} not found", file=sys.stderr, flush=True)
        return CAMPAIGN_NOT_FOUND

    totals = {}
    for channel in channels:
        sends = opens = clicks = 0
        for day in range(days):
            s, o, c = events(campaign, channel, day)
            sends, opens, clicks = sends + s, opens + o, clicks + c
        totals[channel] = {"sends": sends, "opens": opens, "clicks": clicks,
                           "clickRate": round(clicks / sends, 4)}
        print(f"{channel}: {sends} sends, {opens} opens, {clicks} clicks", flush=True)
        time.sleep(0.05)

    report = {"campaign": campaign, "days": days, "currency": os.environ.get("REPORT_CURRENCY", "EUR"),
              "channels": totals, "sends": sum(t["sends"] for t in totals.values())}
    with open(os.environ["JOB_RESULT_FILE"], "w", encoding="utf-8") as f:
        json.dump(report, f)
    print("report written", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
