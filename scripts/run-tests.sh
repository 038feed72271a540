#!/usr/bin/env bash
# The test suite, as `make test` runs it: the end-to-end examples (tests/examples:
# real services, `watchkeeper up`, Prometheus and Alertmanager, mostly waiting on
# scrape and rule intervals) in one pytest process alongside the rest of the suite
# in another, so their waiting overlaps the CPU-bound tests on a 2-core machine.
# They share no state: the examples use their own PostgreSQL databases (wk_shop,
# wk_llm) and Redis dbs (11, 12); every server listens on a free loopback port.
# Extra arguments go to both pytest processes.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
log=$(mktemp -t watchkeeper-e2e.XXXXXX.log)
"$BIN/pytest" -q -p no:cacheprovider tests/examples "$@" >"$log" 2>&1 &
e2e=$!
trap 'kill $e2e 2>/dev/null; rm -f "$log"' INT TERM
"$BIN/pytest" -q --ignore=tests/examples "$@"
main=$?
wait $e2e
examples=$?
echo "== tests/examples (end to end, ran alongside) =="
cat "$log"
rm -f "$log"
echo "rest of the suite: exit $main; tests/examples: exit $examples"
[ "$main" -eq 0 ] && [ "$examples" -eq 0 ]
