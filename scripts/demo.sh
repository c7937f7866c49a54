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
echo "== blog-stream: the same blog stored as fleets store it (mbstream | zstd | age, a chain, the archive sealed)"
mkdir -p demo-keys
[ -f demo-keys/blog-stream.age ] || age-keygen -o demo-keys/blog-stream.age 2>/dev/null   # the demo's own key, never in the store
bin/restoretest backup blog-stream   # a full (or, on a second demo run, an incremental on the chain)
bin/restoretest backup blog-stream   # an incremental on it
bin/restoretest binlogs blog-stream
echo "== verify-store: every stored byte against the SHA-256 it was written with (no key, no server)"
bin/restoretest verify-store blog-stream
echo "== restore + verify + roll forward through the archive + rejoin: npx vitest run --project blog --project blog-stream"
npx vitest run --project blog --project blog-stream "$@"
echo
echo "reports: reports/junit.xml (Jenkins), reports/summary.json, reports/allure-results/ (npm run report: HTML with history)"
