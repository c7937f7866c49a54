#!/usr/bin/env bash
# Example `destroy` hook: stops the example host's sshd by pid and removes its directory.
# It gets create's JSON on stdin ("{}" when create printed nothing usable) and must succeed when there is nothing left.
set -euo pipefail

json=$(cat)
field() { node -e 'const j = JSON.parse(require("fs").readFileSync(0, "utf8") || "{}"); process.stdout.write(String(j[process.argv[1]] ?? ""))' "$1" <<<"$json"; }
pid=$(field pid)
dir=$(field dir)

if [ -z "$pid" ] && [ -z "$dir" ]; then
  echo "destroy-host: create printed no host, nothing to destroy" >&2
  exit 0
fi
case "$dir" in
  */restoretest-example-host-*) ;;
  *) echo "destroy-host: refusing to remove $dir: not an example host directory" >&2; exit 1 ;;
esac

# Only the sshd started for this host: a pid alone could have been reused by now. (An exited process's
# command line reads empty, so this is also false for one that is only waiting to be reaped.)
ours() { grep -qF -- "$dir/sshd_config" "/proc/$pid/cmdline" 2>/dev/null; }
if [ -n "$pid" ] && ours; then
  # The listener does not take its connections down with it.
  pkill -KILL -P "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    ours || break
    sleep 0.1
  done
  if ours; then kill -KILL "$pid" 2>/dev/null || true; fi
fi
rm -rf "$dir"
echo "destroy-host: stopped sshd pid $pid and removed $dir" >&2
