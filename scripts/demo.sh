#!/usr/bin/env bash
# The demo, from a fresh clone: install, back up the `blog` sandbox (baseline + mariadb-backup), restore and verify it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
bash scripts/install-node-deps.sh
bin/restoretest sweep   # directories and servers of earlier runs killed before they could clean up (live runs' are kept)
echo "== backup: baseline + full backup of the blog demo source (kept in backups/blog/.source/ for the rejoin stage)"
bin/restoretest backup blog
echo "== restore + verify + rejoin: npx vitest run --project blog"
npx vitest run --project blog "$@"
echo
echo "reports: reports/junit.xml (Jenkins), reports/summary.json, reports/allure-results/ (npm run report: HTML with history)"
