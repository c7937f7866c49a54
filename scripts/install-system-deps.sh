#!/usr/bin/env bash
# Install the Debian packages restoretest needs, skipping what is present (idempotent; safe to run every time).
set -euo pipefail

packages=(mariadb-server mariadb-client mariadb-backup openssh-server openssh-client docker-compose libxml2-utils prometheus prometheus-pushgateway zstd age time)   # time: peak memory in npm run bench -- --only report
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present (${packages[*]})"
  exit 0
fi

echo "system packages: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
