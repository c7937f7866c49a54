#!/usr/bin/env bash
# The demo on MySQL 9.7 LTS: the same blog, backed up with MySQL's clone plugin, restored, verified and rejoined.
# MySQL comes from Debian's own packages (scripts/install-mysql.sh makes the toolchain services.yaml names).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
bash scripts/install-node-deps.sh
bash scripts/install-mysql.sh
bin/restoretest sweep
echo "== backup: baseline + clone of the blog-mysql demo source (MySQL 9.7, kept in backups/blog-mysql/.source/ for rejoin)"
bin/restoretest backup blog-mysql
echo "== binlogs: copy the source's binlogs into the archive while it gets a day of writes (stops once caught up)"
bin/restoretest binlogs blog-mysql
echo "== restore + verify + roll forward through the archive + rejoin: npx vitest run --project blog-mysql"
npx vitest run --project blog-mysql "$@"
echo
echo "reports: reports/junit.xml (Jenkins), reports/summary.json, reports/allure-results/ (npm run report: HTML with history)"
