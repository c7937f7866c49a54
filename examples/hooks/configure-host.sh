#!/usr/bin/env bash
# Example `configure` hook: where chef-solo or ansible would install MariaDB, this checks the host has what a restore needs.
# It gets create's JSON on stdin and the same facts as RESTORETEST_* variables (used here, so no JSON parsing is needed).
set -euo pipefail

ssh -i "$RESTORETEST_IDENTITY_FILE" -p "$RESTORETEST_PORT" \
  -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$RESTORETEST_KNOWN_HOSTS" -o LogLevel=ERROR \
  "$RESTORETEST_USER@$RESTORETEST_HOST" '
    export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
    for tool in mariadbd mariadb-backup tar find; do
      command -v "$tool" >/dev/null || { echo "configure-host: $tool is not installed on $(hostname)" >&2; exit 1; }
    done
    echo "configure-host: $(hostname) has $(mariadbd --version)" >&2
  '
