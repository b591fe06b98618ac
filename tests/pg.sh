#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL 15 server for the test suite, on 127.0.0.1 only.
#   tests/pg.sh start   - initdb into the data directory (if needed) and start on
#                         $SLUICE_PG_PORT (54329); nothing to do when a server answers there
#   tests/pg.sh stop    - stop it and remove the data directory
#   tests/pg.sh datadir - print the data directory it uses
# The server runs as the `postgres` user when invoked as root (initdb refuses root). The data
# directory is $SLUICE_PG_DATA, else .pgdata/ in the checkout, else, when that user cannot reach
# the checkout (a clone in a private folder, as root), /tmp/sluice-pgdata-<checkout hash>: one
# per checkout, the same for start and stop.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
port="${SLUICE_PG_PORT:-54329}"
bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"

as_pg() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

default_data() {
  if [ "$(id -u)" != "0" ] || runuser -u postgres -- test -x "$here" -a -r "$here" 2>/dev/null; then
    echo "$here/.pgdata"
  else
    echo "/tmp/sluice-pgdata-$(printf '%s' "$here" | md5sum | cut -c1-12)"
  fi
}
data="${SLUICE_PG_DATA:-$(default_data)}"

case "${1:-start}" in
  start)
    if [ -z "$bindir" ]; then
      echo "tests/pg.sh: PostgreSQL server binaries not found (apt-get install postgresql-15)" >&2
      exit 1
    fi
    if as_pg "$bindir/pg_isready" -h 127.0.0.1 -p "$port" -q 2>/dev/null; then
      exit 0
    fi
    if [ ! -s "$data/PG_VERSION" ]; then
      rm -rf "$data"; mkdir -p "$data"
      [ "$(id -u)" = "0" ] && chown postgres:postgres "$data"
      as_pg "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    as_pg "$bindir/pg_ctl" -D "$data" -w -t 60 -l "$data/server.log" \
      -o "-c listen_addresses=127.0.0.1 -p $port -k /tmp -c fsync=off -c max_connections=200" start >/dev/null
    as_pg "$bindir/pg_isready" -h 127.0.0.1 -p "$port" -q
    echo "PostgreSQL ready on 127.0.0.1:$port"
    ;;
  stop)
    if [ -n "$bindir" ] && [ -s "$data/PG_VERSION" ]; then
      as_pg "$bindir/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true
    fi
    rm -rf "$data"
    ;;
  datadir) echo "$data" ;;
  *) echo "usage: tests/pg.sh start|stop|datadir" >&2; exit 2 ;;
esac
