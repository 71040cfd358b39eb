#!/usr/bin/env bash
# queuectl demo: success path, retry path, DLQ, requeue from the DLQ.
# Runs against a throw-away store; QUEUECTL may name another way to run queuectl
# (e.g. QUEUECTL="python -m queuectl"). The twin for Windows is demo_test.ps1.
set -euo pipefail

QUEUECTL=${QUEUECTL:-queuectl}
DEMO_DIR=$(mktemp -d)
export QUEUECTL_DB="$DEMO_DIR/demo.db"
export XDG_DATA_HOME="$DEMO_DIR/data"
q() { $QUEUECTL "$@"; }
step() { printf '\n== %s\n' "$*"; }
fail() { echo "DEMO FAILED: $*" >&2; exit 1; }
cleanup() { q worker stop --wait --timeout 30 >/dev/null 2>&1 || true; rm -rf "$DEMO_DIR"; }
trap cleanup EXIT

step "settings: retry quickly for the demo"
q config set backoff_base 1
q config set max-retries 2
[ "$(q config get max_retries)" = "2" ] || fail "config set max-retries"

step "start two workers in the background"
workers=$(q worker start --count 2)
echo "$workers"
[ "$(echo "$workers" | wc -l)" -eq 2 ] || fail "expected two workers"

step "success path"
hello=$(q run "echo Hello World")
q enqueue '{"id":"job1","command":"sleep 2"}'
q wait "$hello" job1 || fail "successful jobs did not complete"
[ "$(q logs "$hello")" = "Hello World" ] || fail "captured output"
q show job1

step "retry path: exit 3, retried twice, then dead"
q enqueue '{"id":"bad","command":"exit 3","max_retries":2}'
set +e; q wait bad; code=$?; set -e
[ "$code" -eq 3 ] || fail "bad should end dead with exit code 3, got $code"
q show bad | grep -q "attempts: *3" || fail "bad should have used 3 attempts"

step "dead letter queue"
q dlq list
q dlq list --json | grep -q '"id": "bad"' || fail "bad is not in the DLQ"

step "requeue from the DLQ: a job that fails until it is fixed"
q enqueue "{\"id\":\"flaky\",\"command\":\"test -e $DEMO_DIR/fixed\",\"max_retries\":0}"
set +e; q wait flaky; code=$?; set -e
[ "$code" -eq 1 ] || fail "flaky should be dead, got $code"
touch "$DEMO_DIR/fixed"
q dlq retry flaky
q wait flaky || fail "flaky did not complete after dlq retry"

step "status and listing"
q status
q list --state completed
[ "$(q list --state completed --json | grep -c '"state": "completed"')" -eq 3 ] \
  || fail "expected three completed jobs"
q config show

step "graceful stop"
q worker stop --wait
[ "$(q worker list --json)" = "[]" ] || fail "workers still registered"

echo
echo "DEMO PASSED"
