#!/usr/bin/env bash
# with-skips.sh COMMAND...: runs a test command with TEST_SKIP_LOG set, then lists the tests that
# skipped because the endpoint lacks a feature (testkit's Emulator::lacks), with their reasons,
# so a skip is never a silent pass. Exits with the command's status.
set -uo pipefail
log=$(mktemp -t test-skips.XXXXXX)
trap 'rm -f "$log"' EXIT
TEST_SKIP_LOG=$log "$@"
status=$?
if [[ -s $log ]]; then
    echo "==> Skipped, for lack of an endpoint feature ($(wc -l <"$log")):"
    sort "$log" | sed 's/^/  /'
fi
exit "$status"
