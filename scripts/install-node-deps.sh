#!/usr/bin/env bash
# Install the npm packages from package-lock.json when node_modules is missing or older than the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  echo "npm packages: up to date"
else
  echo "npm packages: installing from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error
fi
# The one change to Allure's report plugin (npm's postinstall makes it too; here for a node_modules installed before it).
node scripts/patch-allure.mjs
