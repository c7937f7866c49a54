#!/usr/bin/env bash
# `npm run report`: the Allure HTML report of the last run, adding it to the history kept across runs (allurerc.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
reports="${RESTORETEST_REPORTS:-reports}"
results="$reports/allure-results"
if [ ! -d "$results" ]; then
  echo "no $results: run the suite first (npx vitest run --project <service>)" >&2
  exit 1
fi
# allurerc.mjs reads RESTORETEST_REPORTS for the report and history paths; ALLURE_HISTORY may point elsewhere (Jenkins).
export RESTORETEST_REPORTS="$reports"
history="${ALLURE_HISTORY:-$reports/allure-history.jsonl}"
output="${ALLURE_REPORT:-$reports/allure-report}"
output="${output%/}"
# Allure writes into the directory as it is: a directory report (allurerc.mjs) would keep every earlier night's files.
# The old one is renamed aside and deleted only once the new report is written, in the background: at 40,000 tests it
# is 80,000 files, and deleting them first took 8.5 s of the report's time on this machine. Leftovers of a run
# killed before its deletion finished go with it.
stale=()
for dir in "$output".old.*; do [ -e "$dir" ] && stale+=("$dir"); done
if [ -e "$output" ]; then mv "$output" "$output.old.$$" && stale+=("$output.old.$$"); fi
# The binaries themselves, not through npx (which costs 0.5-1 s each here).
node_modules/.bin/allure generate --config allurerc.mjs "$results"
# The line Allure just appended, without each test's labels (src/report/allureHistory.ts): less than half the size.
if [ -f "$history" ]; then node_modules/.bin/tsx src/report/allureHistory.ts "$history"; fi
if [ "${#stale[@]}" -gt 0 ]; then (nice -n 19 rm -rf "${stale[@]}" </dev/null >/dev/null 2>&1 &); fi
echo "report: $output/index.html (history: $history)"
