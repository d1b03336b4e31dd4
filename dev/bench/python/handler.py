"""The reference: the job API's two hottest routes as a typical Python 3 + boto3 Lambda handler,
making the same AWS calls as the Rust API (docs/bench.md). `make bench` runs it under the same
local Lambda Runtime API and compares cold starts and CPU per request.

GET /jobs/stats: BatchGetItem of the 16 counter shards and the legacy item (consistent reads),
and GetQueueAttributes for the depth. POST /jobs (a `noop` job): TransactWriteItems (the job item
and +1 submitted on a counter shard), SendMessage, and an UpdateItem marking it sent.
"""
import json
import os
import random
import uuid
from datetime import datetime, timedelta, timezone

import boto3

# Clients at init, as Lambda handlers are written.
DDB = boto3.client("dynamodb")
SQS = boto3.client("sqs")
TABLE = os.environ["TABLE_NAME"]
QUEUE_URL = os.environ["QUEUE_URL"]
SHARDS = 16
COUNTERS = ("submitted", "succeeded", "failed", "retries", "cancelled", "skipped")


def _now():
    return datetime.now(timezone.utc)


def _ts(t):
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stats():
    keys = [{"pk": {"S": f"STATS#{i}"}} for i in range(SHARDS)] + [{"pk": {"S": "STATS"}}]
    out = DDB.batch_get_item(RequestItems={TABLE: {"Keys": keys, "ConsistentRead": True}})
    totals = dict.fromkeys(COUNTERS, 0)
    for item in out["Responses"].get(TABLE, []):
        for name in COUNTERS:
            if name in item:
                totals[name] += int(item[name]["N"])
    attrs = SQS.get_queue_attributes(
        QueueUrl=QUEUE_URL,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return 200, {
        "succeedJob": totals["succeeded"],
        "failedJob": totals["failed"],
        "jobRetry": totals["retries"],
        "submitted": totals["submitted"],
        "cancelled": totals["cancelled"],
        "skipped": totals["skipped"],
        "queued": int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesDelayed"]),
        "inFlight": int(attrs["ApproximateNumberOfMessagesNotVisible"]),
    }


def submit(body):
    request = json.loads(body or "null") or {"job": "aggregate"}
    if request.get("job") != "noop":
        return 400, {"error": {"code": "unknown_kind", "message": "the reference handles noop only"}}
    now = _now()
    job_id = str(uuid.uuid4())
    message = {"v": 1, "jobId": job_id, "job": "noop", "payload": {}, "submittedAt": _ts(now), "source": "api"}
    token = uuid.uuid4().hex
    item = {
        "pk": {"S": f"JOB#{job_id}"},
        "jobId": {"S": job_id},
        "kind": {"S": "noop"},
        "payload": {"S": "{}"},
        "source": {"S": "api"},
        "submittedAt": {"S": _ts(now)},
        "createdAt": {"S": _ts(now)},
        "listAll": {"S": "JOB"},
        "status": {"S": "QUEUED"},
        "attempts": {"N": "0"},
        "interruptions": {"N": "0"},
        "updatedAt": {"S": _ts(now)},
        "lastWrite": {"S": token},
        "dueAt": {"N": str(int((now + timedelta(seconds=60)).timestamp() * 1000))},
        "dueShard": {"S": str(random.randrange(8))},
        "expiresAt": {"N": str(int(now.timestamp()) + 30 * 86400)},
    }
    DDB.transact_write_items(
        ClientRequestToken=token,
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": {"pk": {"S": f"STATS#{random.randrange(SHARDS)}"}},
                    "UpdateExpression": "ADD submitted :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ],
    )
    SQS.send_message(QueueUrl=QUEUE_URL, MessageBody=json.dumps(message))
    DDB.update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"JOB#{job_id}"}},
        UpdateExpression="SET sentAt = :now, dueAt = :due",
        ConditionExpression="#s = :queued AND attempts = :zero",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":now": {"S": _ts(_now())},
            ":due": {"N": str(int((now + timedelta(seconds=900)).timestamp() * 1000))},
            ":queued": {"S": "QUEUED"},
            ":zero": {"N": "0"},
        },
    )
    return 200, {"jobId": job_id, "status": "QUEUED"}


def handler(event, _context):
    method = event["requestContext"]["http"]["method"]
    path = event["rawPath"]
    if method == "GET" and path == "/jobs/stats":
        status, body = stats()
    elif method == "POST" and path == "/jobs":
        raw = event.get("body")
        if raw and event.get("isBase64Encoded"):
            import base64

            raw = base64.b64decode(raw).decode()
        status, body = submit(raw)
    else:
        status, body = 404, {"error": {"code": "not_found", "message": path}}
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
