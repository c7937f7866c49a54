#!/usr/bin/env bash
# Test infrastructure, not something users need: a MySQL 9.7 LTS toolchain made from Debian's own packages (the `sid`
# suite), for restoretest's MySQL tests and the MySQL demo service. Users run their own MySQL.
#
# debootstrap puts mysql-server-core and mysql-client into root/ of a folder (RESTORETEST_MYSQL_HOME, default
# .cache/mysql-sid, which git ignores); no chroot is needed: each program runs on host paths through the tree's own
# loader. The toolchain is the folder's bin/ (services.yaml `toolchain`): mysqld, mysql, mysqldump, mysqlbinlog and
# mysqladmin as small wrapper scripts. Idempotent: a finished toolchain is kept (bin/.complete), a half-made one made again.
set -euo pipefail
cd "$(dirname "$0")/.."
home="${RESTORETEST_MYSQL_HOME:-$PWD/.cache/mysql-sid}"
tree="$home/root"
toolchain="$home/bin"
mirror="${RESTORETEST_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
marker="$toolchain/.complete"

if [ -f "$marker" ]; then
  echo "mysql toolchain: present in $toolchain ($(cat "$marker"))"
  exit 0
fi

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
if ! command -v debootstrap >/dev/null && [ ! -x /usr/sbin/debootstrap ]; then
  echo "mysql toolchain: installing debootstrap"
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends debootstrap
fi

# A tree is moved into place only once debootstrap has finished: one without mysqld is made again.
if [ ! -x "$tree/usr/sbin/mysqld" ]; then
  echo "mysql toolchain: debootstrap of Debian sid with mysql-server-core and mysql-client into $tree (about a minute, ~650 MB)"
  rm -rf "$tree" "$tree.partial"
  mkdir -p "$home"
  log="$home/debootstrap.log"
  if ! "${sudo_cmd[@]}" /usr/sbin/debootstrap --variant=minbase --include=mysql-server-core,mysql-client sid "$tree.partial" "$mirror" >"$log" 2>&1; then
    echo "mysql toolchain: debootstrap failed (full log: $log); last lines:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  mv "$tree.partial" "$tree"
fi

loader="$tree/lib64/ld-linux-x86-64.so.2"
libs="$tree/usr/lib/x86_64-linux-gnu:$tree/lib/x86_64-linux-gnu"
mkdir -p "$toolchain"
# One wrapper per program. A client or server reads --no-defaults/--defaults-file/--defaults-extra-file only as its
# first argument, so the wrapper keeps such an argument first and puts the tree's own paths after it.
wrapper() {
  local name="$1" program="$2" paths="$3"
  cat >"$toolchain/$name" <<EOF
#!/bin/sh
# Made by scripts/install-mysql.sh: $program of the Debian sid tree in $tree, through the tree's own loader.
first=
case "\$1" in --no-defaults|--defaults-file=*|--defaults-extra-file=*) first="\$1"; shift ;; esac
exec '$loader' --library-path '$libs' '$tree$program' \${first:+"\$first"} $paths "\$@"
EOF
  chmod 0755 "$toolchain/$name"
}
share="$tree/usr/share/mysql"
wrapper mysqld /usr/sbin/mysqld "'--lc-messages-dir=$share' '--character-sets-dir=$share/charsets' '--plugin-dir=$tree/usr/lib/mysql/plugin'"
for client in mysql mysqldump mysqlbinlog mysqladmin; do
  wrapper "$client" "/usr/bin/$client" "'--character-sets-dir=$share/charsets'"
done
version="$("$toolchain/mysqld" --no-defaults --version 2>&1 | head -n 1)"
case "$version" in
  *9.7.*) ;;
  *) echo "mysql toolchain: expected MySQL 9.7 from Debian sid, got: $version" >&2; exit 1 ;;
esac
echo "$version" >"$marker"
echo "mysql toolchain: ready in $toolchain ($version)"
