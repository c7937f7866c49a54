#!/usr/bin/env bash
# `npm test`: install what is missing, typecheck, lint, then the tool's own tests against real MariaDB (10.11, 11.8) and MySQL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
bash scripts/install-node-deps.sh
bash scripts/install-mysql.sh   # MySQL 9.7 LTS from Debian sid, for the MySQL tests (test infrastructure only)
bash scripts/install-mariadb.sh # MariaDB 11.8 LTS from Debian trixie, for the MariaDB 11.8 tests (test infrastructure only)
echo "== typecheck"; npx tsc --noEmit -p .
echo "== lint"; npx eslint --max-warnings=0 .
echo "== tests"
mkdir -p reports
# Every run has its own temp root: the tests' sandboxes, stores and restores live under it, and "nothing left behind"
# is asked of this root and of the servers whose command line names it, so two suites (two checkouts, two CI
# executors, a developer's own sandbox) run side by side without seeing each other. Removed when the run ends.
if [ -z "${RESTORETEST_TEST_ROOT:-}" ]; then
  RESTORETEST_TEST_ROOT="$(mktemp -d "${TMPDIR:-/tmp}/rt.XXXXXX")"
  trap 'rm -rf "$RESTORETEST_TEST_ROOT"' EXIT
fi
export TMPDIR="$RESTORETEST_TEST_ROOT" RESTORETEST_TEST_ROOT
status=0
# Three test files at a time on two cores: most of a test's time is a server starting, copying or syncing. Measured
# warm on this 2-core machine, 848 tests: 2 workers 11 min 8 s, 3 workers 9 min 33 s, both green.
# The longest files first (test/durations.json, from an earlier run: npx tsx scripts/test-durations.ts), so that no
# long file starts last and runs alone at the end; on a fresh clone vitest has no durations of its own.
export RESTORETEST_DURATIONS="${RESTORETEST_DURATIONS:-$PWD/test/durations.json}"
RESTORETEST_REPORTS="$PWD/reports/self" npx vitest run --project restoretest --maxWorkers="${RESTORETEST_TEST_WORKERS:-3}" \
  --reporter=default --reporter=json --outputFile.json=reports/self-test.json "$@" || status=$?
# A plain closing line any CI can read: "N passed, N failed, N skipped".
node -e '
const r = JSON.parse(require("fs").readFileSync("reports/self-test.json", "utf8"));
console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' || true
exit $status
