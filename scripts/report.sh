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
# Allure writes into the directory as it is: a directory report (allurerc.mjs) would keep every earlier night's files.
rm -rf "$output"
npx allure generate --config allurerc.mjs "$results"
# The line Allure just appended, without each test's labels (src/vitest/allureHistory.ts): less than half the size.
if [ -f "$history" ]; then npx tsx src/vitest/allureHistory.ts "$history"; fi
echo "report: $output/index.html (history: $history)"
