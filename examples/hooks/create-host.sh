#!/usr/bin/env bash
# Example `create` hook for the command provider: "creates a host" by starting a throwaway sshd on a free loopback port.
#
# A real hook calls a cloud API here (and waits for the machine to boot); the contract is the same:
#   - print ONE JSON object on stdout: host, port, user, identityFile, knownHosts (or hostKeyFingerprint), workDir,
#     plus anything destroy will need (here: pid and dir). Logs go to stderr.
#   - background processes must not keep stdout/stderr open (restoretest waits for them to close).
#   - clean up after yourself if you fail half-way: destroy is still called, but only with what you printed.
# Needs: bash, ssh-keygen, /usr/sbin/sshd (Debian: openssh-server); run as root, as sshd needs /run/sshd.
set -euo pipefail

dir=$(mktemp -d "${TMPDIR:-/tmp}/restoretest-example-host-XXXXXXXX")
pid=""
on_error() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap on_error ERR

ssh-keygen -q -t ed25519 -N '' -C restoretest-example-host -f "$dir/host_key"
ssh-keygen -q -t ed25519 -N '' -C restoretest-example-user -f "$dir/user_key"
cp "$dir/user_key.pub" "$dir/authorized_keys"
mkdir -p "$dir/restores"
# sshd refuses to start without its privilege separation directory (normally made by the package's service unit).
[ -d /run/sshd ] || mkdir -p -m 0755 /run/sshd

# Both in subshells: a failed `exec` redirection would end this script.
port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
answers_ssh() {
  local banner
  banner=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && read -r -t 2 line <&3 && echo "$line") 2>/dev/null || true)
  [[ $banner == SSH-* ]]
}

for attempt in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 40000))
  port_is_free "$port" || continue
  cat > "$dir/sshd_config" <<CONFIG
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_key
AuthorizedKeysFile $dir/authorized_keys
PidFile $dir/sshd.pid
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
PrintMotd no
# Commands then skip ~/.bashrc (bash reads it for sshd's commands unless nested): quicker, and nothing printed on stdout.
SetEnv SHLVL=1
CONFIG
  /usr/sbin/sshd -D -e -f "$dir/sshd_config" </dev/null >>"$dir/sshd.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    if answers_ssh "$port"; then break 2; fi
    sleep 0.1
  done
  echo "create-host: sshd on port $port did not come up (attempt $attempt):" >&2
  tail -n 5 "$dir/sshd.log" >&2 || true
  kill "$pid" 2>/dev/null || true
  pid=""
done
if [ -z "$pid" ]; then
  echo "create-host: could not start sshd" >&2
  false
fi

# The host key, as the client must expect it: never trust on first use, even for a host we made a second ago.
read -r key_type key_blob _ < "$dir/host_key.pub"
echo "[127.0.0.1]:$port $key_type $key_blob" > "$dir/known_hosts"

echo "create-host: sshd pid $pid listening on 127.0.0.1:$port, files in $dir" >&2
printf '{"host": "127.0.0.1", "port": %d, "user": "%s", "identityFile": "%s", "knownHosts": "%s", "workDir": "%s", "pid": %d, "dir": "%s"}\n' \
  "$port" "$(id -un)" "$dir/user_key" "$dir/known_hosts" "$dir/restores" "$pid" "$dir"
