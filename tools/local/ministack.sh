#!/usr/bin/env bash
# ministack.sh PORT: ministack in the foreground on 127.0.0.1:PORT with the services this project
# uses (SQS, DynamoDB, Scheduler), from .venv (make venv). One place for make up, the smoke test
# and make test-external; the Rust test harness starts it the same way (crates/testkit).
set -euo pipefail
cd "$(dirname "$0")/../.."
GATEWAY_PORT=${1:?usage: ministack.sh PORT} BIND_HOST=127.0.0.1 SERVICES=sqs,dynamodb,scheduler LOG_LEVEL=WARNING \
    exec .venv/bin/ministack
