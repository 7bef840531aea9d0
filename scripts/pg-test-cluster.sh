#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the PostgreSQL store tests (test/store/postgres*.test.ts).
#
#   eval "$(scripts/pg-test-cluster.sh start)"   # starts it (or finds it running) and exports
#                                               # FACEGATE_TEST_DATABASE_URL=postgres://...
#   scripts/pg-test-cluster.sh stop              # stops it and deletes its folder
#
# The cluster lives in $FACEGATE_PG_TEST_DIR (default: /tmp/facegate-pg-test), listens on a free
# port of 127.0.0.1 only, with a password drawn at start, and keeps its unix socket in its folder.
# PostgreSQL refuses to run as root: as root (CI), the server runs as the `postgres` user, which
# owns the folder. It uses Debian's PostgreSQL 15 (another version when 15 is absent), and installs
# Debian's postgresql package when there is none.
# Messages go to stderr; stdout carries only the export line, so that `eval` takes nothing else.
set -euo pipefail

DIR="${FACEGATE_PG_TEST_DIR:-${TMPDIR:-/tmp}/facegate-pg-test}"
DATABASE=facegate_test
# Debian's PostgreSQL 15 (what the tests are written against), else the newest version installed.
find_binaries() {
  if [ -x /usr/lib/postgresql/15/bin/initdb ]; then echo /usr/lib/postgresql/15/bin; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true
}
BIN="$(find_binaries)"

say() { echo "pg-test-cluster: $*" >&2; }

# Runs a PostgreSQL program as the user that owns the cluster.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_binaries() {
  [ -n "$BIN" ] && [ -x "$BIN/initdb" ] && return
  if [ "$(id -u)" -ne 0 ]; then
    say "no PostgreSQL under /usr/lib/postgresql: install Debian's postgresql package (apt-get install postgresql) or run this as root"
    exit 1
  fi
  say "installing Debian's postgresql package"
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >&2
  BIN="$(find_binaries)"
  [ -n "$BIN" ] && [ -x "$BIN/initdb" ] || { say "the postgresql package brought no initdb under /usr/lib/postgresql"; exit 1; }
}

free_port() {
  node -e 'const s = require("node:net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

running() {
  [ -f "$DIR/url" ] && as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

start() {
  if running; then
    say "already running in $DIR"
    echo "export FACEGATE_TEST_DATABASE_URL=$(cat "$DIR/url")"
    return
  fi
  ensure_binaries
  rm -rf "$DIR"
  mkdir -p "$DIR"
  chmod 700 "$DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$DIR"
  local password port
  password="$(node -e 'console.log(require("node:crypto").randomBytes(18).toString("hex"))')"
  as_owner bash -c "umask 077 && printf '%s\n' '$password' > '$DIR/password'"
  as_owner "$BIN/initdb" -D "$DIR/data" -U postgres --pwfile="$DIR/password" --auth-host=scram-sha-256 --auth-local=peer \
    --encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
  rm "$DIR/password"
  port="$(free_port)"
  # fsync off: the cluster is thrown away, and the tests should not wait for the disk.
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $DIR -c fsync=off -c full_page_writes=off -c max_connections=200" start >&2 \
    || { cat "$DIR/server.log" >&2; exit 1; }
  as_owner "$BIN/psql" -h "$DIR" -p "$port" -U postgres -d postgres -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DATABASE" >&2
  local url="postgres://postgres:$password@127.0.0.1:$port/$DATABASE"
  as_owner bash -c "umask 077 && printf '%s\n' '$url' > '$DIR/url'"
  say "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') running in $DIR on 127.0.0.1:$port"
  echo "export FACEGATE_TEST_DATABASE_URL=$url"
}

stop() {
  if [ -d "$DIR/data" ]; then
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >&2 || true
  fi
  rm -rf "$DIR"
  say "stopped, $DIR removed"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
