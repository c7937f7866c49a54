#!/usr/bin/env bash
# Test infrastructure, not something users need: a MariaDB 11.8 LTS toolchain made from Debian's own packages (the
# `trixie` suite), for restoretest's MariaDB 11.8 tests. Users run their own MariaDB; the demo stays on the host's.
#
# debootstrap puts mariadb-server-core, mariadb-client and mariadb-backup into root/ of a folder
# (RESTORETEST_MARIADB_HOME, default .cache/mariadb-trixie, which git ignores); aria_chk and the server plugins
# (auth_ed25519, ARCHIVE, BLACKHOLE, …), which only the mariadb-server package holds (with a server's scripts and
# service units), are taken from that package alone, as a server installed from it has them. No chroot
# is needed to run anything: each program runs on host paths through the tree's own loader. The toolchain is the
# folder's bin/ (services.yaml `backup.toolchain`): mariadbd, mariadb, mariadb-dump, mariadb-binlog, mariadb-admin,
# mariadb-backup, mbstream, aria_chk and mariadb-install-db as small wrapper scripts. Idempotent: a finished toolchain
# is kept (bin/.complete), a half-made one made again.
set -euo pipefail
cd "$(dirname "$0")/.."
home="${RESTORETEST_MARIADB_HOME:-$PWD/.cache/mariadb-trixie}"
tree="$home/root"
toolchain="$home/bin"
mirror="${RESTORETEST_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
marker="$toolchain/.complete"

if [ -f "$marker" ]; then
  echo "mariadb toolchain: present in $toolchain ($(cat "$marker"))"
  exit 0
fi

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
if ! command -v debootstrap >/dev/null && [ ! -x /usr/sbin/debootstrap ]; then
  echo "mariadb toolchain: installing debootstrap"
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends debootstrap
fi

# A tree is moved into place only once debootstrap, aria_chk and the plugins are in: one without them is made again.
if [ ! -x "$tree/usr/sbin/mariadbd" ] || [ ! -x "$tree/usr/bin/aria_chk" ] || [ ! -f "$tree/usr/lib/mysql/plugin/auth_ed25519.so" ]; then
  echo "mariadb toolchain: debootstrap of Debian trixie with mariadb-server-core, mariadb-client and mariadb-backup into $tree (about 80 s, ~480 MB)"
  "${sudo_cmd[@]}" rm -rf "$tree" "$tree.partial"
  mkdir -p "$home"
  log="$home/debootstrap.log"
  if ! "${sudo_cmd[@]}" /usr/sbin/debootstrap --variant=minbase --include=mariadb-server-core,mariadb-client,mariadb-backup trixie "$tree.partial" "$mirror" >"$log" 2>&1; then
    echo "mariadb toolchain: debootstrap failed (full log: $log); last lines:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  # aria_chk names the damaged Aria table when mariadb-backup --prepare's Aria recovery fails (src/restore/pipeline.ts),
  # and a restored server loads the plugins its backup's accounts and tables use: the mariadb-server package of the same
  # suite (the tree's server's version), fetched by the tree's own apt, and only those files unpacked from it.
  if ! "${sudo_cmd[@]}" chroot "$tree.partial" sh -c 'mkdir -p /tmp/debs && cd /tmp/debs && apt-get download -q mariadb-server' >>"$log" 2>&1; then
    echo "mariadb toolchain: apt-get download mariadb-server in the trixie tree failed (full log: $log)" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  deb="$(ls "$tree.partial"/tmp/debs/mariadb-server_*.deb)"
  dpkg-deb --fsys-tarfile "$deb" | "${sudo_cmd[@]}" tar -x -C "$tree.partial" ./usr/bin/aria_chk ./usr/lib/mysql/plugin
  # The downloaded packages (140 MB) are not needed once unpacked.
  "${sudo_cmd[@]}" rm -rf "$tree.partial/tmp/debs" "$tree.partial"/var/cache/apt/archives/*.deb
  mv "$tree.partial" "$tree"
fi

loader="$tree/lib64/ld-linux-x86-64.so.2"
libs="$tree/usr/lib/x86_64-linux-gnu:$tree/lib/x86_64-linux-gnu"
share="$tree/usr/share/mariadb"
# One plugin directory of the tree's server plugins (from mariadb-server, above) and client authentication plugins
# (libmariadb3's: client_ed25519.so, parsec.so, …), never the host's 10.11 ones in the compiled-in /usr/lib/mysql/plugin
# and /usr/lib/x86_64-linux-gnu/libmariadb3/plugin: a client of the tree otherwise loads the host's client_ed25519.so
# and finds no parsec.so (PARSEC is new in 11.6), and mariadb-backup and a replica's mariadbd look for client plugins in
# their --plugin-dir.
plugins="$home/plugin"
rm -rf "$plugins"
mkdir -p "$plugins" "$toolchain"
for plugin in "$tree"/usr/lib/mysql/plugin/* "$tree"/usr/lib/x86_64-linux-gnu/libmariadb3/plugin/*; do
  ln -s "$plugin" "$plugins/"
done
# One wrapper per program. A client or server reads --no-defaults/--defaults-file/--defaults-extra-file only as its
# first argument, so the wrapper keeps such an argument first and puts the tree's own paths after it.
wrapper() {
  local name="$1" program="$2" paths="$3"
  cat >"$toolchain/$name" <<EOF
#!/bin/sh
# Made by scripts/install-mariadb.sh: $program of the Debian trixie tree in $tree, through the tree's own loader.
first=
case "\$1" in --no-defaults|--defaults-file=*|--defaults-extra-file=*) first="\$1"; shift ;; esac
exec '$loader' --library-path '$libs' '$tree$program' \${first:+"\$first"} $paths "\$@"
EOF
  chmod 0755 "$toolchain/$name"
}
wrapper mariadbd /usr/sbin/mariadbd "'--lc-messages-dir=$share' '--character-sets-dir=$share/charsets' '--plugin-dir=$plugins'"
for client in mariadb mariadb-dump mariadb-binlog mariadb-admin; do
  wrapper "$client" "/usr/bin/$client" "'--character-sets-dir=$share/charsets' '--plugin-dir=$plugins'"
done
# mariadb-backup takes no --character-sets-dir (its character sets are compiled in); its --plugin-dir serves both the
# plugins --prepare may load and the client authentication plugin of its login.
wrapper mariadb-backup /usr/bin/mariadb-backup "'--plugin-dir=$plugins'"
wrapper mbstream /usr/bin/mbstream ""
wrapper aria_chk /usr/bin/aria_chk "'--character-sets-dir=$share/charsets'"
# What the tree's mariadb-install-db runs besides mariadbd (it takes no --character-sets-dir).
wrapper my_print_defaults /usr/bin/my_print_defaults ""
wrapper resolveip /usr/bin/resolveip ""

# mariadb-install-db is a shell script: the tree's own one runs as it is, with --basedir naming a directory of the
# toolchain's wrappers (bin/, sbin/mariadbd) and the tree's SQL scripts (share/), so it feeds the tree's own
# mariadb_system_tables*.sql to the tree's mariadbd --bootstrap, on any host path, as a package install would.
base="$home/basedir"
rm -rf "$base"
mkdir -p "$base/sbin" "$base/lib/mysql"
ln -s "$toolchain" "$base/bin"
ln -s "$toolchain/mariadbd" "$base/sbin/mariadbd"
ln -s "$tree/usr/share" "$base/share"
ln -s "$plugins" "$base/lib/mysql/plugin"
cat >"$toolchain/mariadb-install-db" <<EOF
#!/bin/sh
# Made by scripts/install-mariadb.sh: the Debian trixie tree's mariadb-install-db (a shell script), its programs the
# wrappers beside this one (--basedir=$base).
first=
case "\$1" in --no-defaults|--defaults-file=*|--defaults-extra-file=*) first="\$1"; shift ;; esac
exec sh '$tree/usr/bin/mariadb-install-db' \${first:+"\$first"} '--basedir=$base' "\$@"
EOF
chmod 0755 "$toolchain/mariadb-install-db"

version="$("$toolchain/mariadbd" --no-defaults --version 2>&1 | head -n 1)"
case "$version" in
  *11.8.*-MariaDB*) ;;
  *) echo "mariadb toolchain: expected MariaDB 11.8 from Debian trixie, got: $version" >&2; exit 1 ;;
esac
# Every wrapper runs its program (mbstream has no --version: --help).
for program in mariadb mariadb-dump mariadb-binlog mariadb-admin mariadb-backup mbstream aria_chk my_print_defaults resolveip; do
  if ! "$toolchain/$program" --help >/dev/null 2>&1; then
    echo "mariadb toolchain: $toolchain/$program does not run: $("$toolchain/$program" --help 2>&1 | tail -n 3)" >&2
    exit 1
  fi
done
echo "$version" >"$marker"
echo "mariadb toolchain: ready in $toolchain ($version)"
