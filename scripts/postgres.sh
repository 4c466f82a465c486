#!/usr/bin/env bash
# A PostgreSQL server for the PostgreSQL store tests, the Debian way (postgresql-common's
# pg_createcluster / pg_ctlcluster, run as root or as the postgres user): make the cluster if
# it is missing, start it if it is down, and make the role `blindmatch` and the database
# `blindmatch_test` (UTF-8, C collation) if they are missing. Idempotent.
#
# Prints one line on standard output, the URL to test against:
#   postgres://blindmatch:PASSWORD@127.0.0.1:PORT/blindmatch_test
# (scripts/test.sh exports it as BLINDMATCH_TEST_PG). Progress and errors go to standard error.
# Exits non-zero when PostgreSQL is not installed or does not start.
#
# Settings (environment): BLINDMATCH_PG_VERSION (default: the newest installed server),
# BLINDMATCH_PG_CLUSTER (default: main), BLINDMATCH_PG_PASSWORD (default: a random one, made
# once and kept in target/postgres/password).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
CLUSTER="${BLINDMATCH_PG_CLUSTER:-main}"
ROLE=blindmatch
DB=blindmatch_test

say() { echo "postgres.sh: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# The cluster owner runs psql over the local socket (peer authentication).
as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@";
  elif [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@");
  else (cd / && sudo -u postgres "$@"); fi
}

for tool in pg_lsclusters pg_createcluster pg_ctlcluster; do
  command -v "$tool" >/dev/null || {
    say "PostgreSQL is not installed (Debian's postgresql package; scripts/provision.sh installs it)"
    exit 1
  }
done
VERSION="${BLINDMATCH_PG_VERSION:-$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)}"
if [ -z "$VERSION" ] || ! [ -x "/usr/lib/postgresql/$VERSION/bin/postgres" ]; then
  say "no PostgreSQL server is installed under /usr/lib/postgresql"
  exit 1
fi

# One line of `pg_lsclusters -h`: version cluster port status owner datadir logfile.
cluster() { pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c'; }

if [ -z "$(cluster)" ]; then
  say "pg_createcluster $VERSION $CLUSTER"
  as_root pg_createcluster "$VERSION" "$CLUSTER" >&2
fi
read -r _ _ PORT STATUS _ _ LOG <<<"$(cluster)"
if [ "$STATUS" != online ]; then
  # A server that was killed leaves its socket lock file behind, and a new one refuses to start
  # while the PID in it runs: remove it unless that PID is a postgres process (for a moment
  # after a kill it still is: then the start is tried again).
  LOCK="/var/run/postgresql/.s.PGSQL.$PORT.lock"
  if [ -f "$LOCK" ]; then
    pid="$(head -n 1 "$LOCK" 2>/dev/null || true)"
    if ! [ "$(ps -o comm= -p "${pid:-0}" 2>/dev/null)" = postgres ]; then
      as_root rm -f "$LOCK"
    fi
  fi
  started=
  for try in 1 2 3 4 5; do
    say "pg_ctlcluster $VERSION $CLUSTER start (port $PORT; try $try)"
    if as_root pg_ctlcluster "$VERSION" "$CLUSTER" start >&2; then
      started=1
      break
    fi
    sleep 2
  done
  if [ -z "$started" ]; then
    say "the cluster did not start; the end of its log ($LOG):"
    tail -n 20 "$LOG" >&2 2>/dev/null || true
    exit 1
  fi
fi
for _ in $(seq 1 60); do
  pg_isready -q -h 127.0.0.1 -p "$PORT" && break
  sleep 0.5
done
if ! pg_isready -q -h 127.0.0.1 -p "$PORT"; then
  say "the cluster does not accept connections on 127.0.0.1:$PORT"
  exit 1
fi

if [ -n "${BLINDMATCH_PG_PASSWORD:-}" ]; then
  PW="$BLINDMATCH_PG_PASSWORD"
else
  PWFILE="$ROOT/target/postgres/password"
  if ! [ -s "$PWFILE" ]; then
    mkdir -p "$(dirname "$PWFILE")"
    (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$PWFILE")
  fi
  PW="$(cat "$PWFILE")"
fi
case "$PW" in
  *[!A-Za-z0-9_.~-]*) say "BLINDMATCH_PG_PASSWORD may hold only A-Z a-z 0-9 _ . ~ -"; exit 1 ;;
esac

# The password goes through standard input (not the command line); the role's password is
# set on every run so that it matches the one printed.
as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" -d postgres >/dev/null <<SQL
\set pw '$PW'
SELECT 'CREATE ROLE $ROLE' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE')
\gexec
ALTER ROLE $ROLE WITH LOGIN PASSWORD :'pw';
SELECT 'CREATE DATABASE $DB OWNER $ROLE ENCODING ''UTF8'' LC_COLLATE ''C'' LC_CTYPE ''C'' TEMPLATE template0'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB')
\gexec
SQL

echo "postgres://$ROLE:$PW@127.0.0.1:$PORT/$DB"
