#!/usr/bin/env bash
# The demo, from a fresh clone: install, back up the `blog` sandbox (baseline + mariadb-backup), restore and verify it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
bash scripts/install-node-deps.sh
bin/restoretest sweep   # directories and servers of earlier runs killed before they could clean up (live runs' are kept)
echo "== backup: baseline + full backup of the blog demo source (kept in backups/blog/.source/ for the rejoin stage)"
bin/restoretest backup blog
echo "== binlogs: copy the source's binlogs into the archive while it gets a day of writes (stops once caught up)"
bin/restoretest binlogs blog
echo "== restore + verify + roll forward through the archive + rejoin: npx vitest run --project blog"
npx vitest run --project blog "$@"
echo
echo "reports: reports/junit.xml (Jenkins), reports/summary.json, reports/allure-results/ (npm run report: HTML with history)"
