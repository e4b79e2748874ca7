#!/usr/bin/env bash
# Local PostgreSQL for development and tests (Debian/Ubuntu).
#
#   deploy/postgres/postgres.sh start|stop|status|restart|crash
#
# start   install Debian's `postgresql` package if no server binary exists,
#         create a private cluster (not the distro's "main" cluster) listening
#         on 127.0.0.1:5432 only, start it, wait for pg_isready, then make sure
#         role yangpu/yangpu (LOGIN CREATEDB) and its databases exist.
#         Safe to re-run; a running cluster is left alone.
# stop    pg_ctl stop -m fast.
# status  exit 0 when accepting connections, 3 otherwise.
# crash   pg_ctl restart -m immediate: the postmaster kills every backend without a checkpoint and
#         recovers from the WAL (the fault tests' database crash).
#
# URLs: postgresql+psycopg://yangpu:yangpu@127.0.0.1:5432/yangpu_{intake,routing,sla,auth}
#       (yangpu_auth: the platform's identity store, AUTH_DATABASE_URL, shared by every service)
#
# Environment:
#   PG_PORT       port (default 5432); the fault tests run a second cluster of their own this way.
#   PG_DATA_DIR   cluster directory (default <repo>/var/postgres). As root the
#                 server runs as the `postgres` OS user (it refuses to run as
#                 root); if that user cannot traverse <repo>/var (e.g. the repo
#                 lives under /root), the default becomes /var/tmp/yangpu-postgres.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
HOST=127.0.0.1
PORT="${PG_PORT:-5432}"
ROLE=yangpu
PASSWORD=yangpu
DATABASES=(yangpu_intake yangpu_routing yangpu_sla yangpu_auth)
FALLBACK_DATA_DIR=/var/tmp/yangpu-postgres

SCRIPT=postgres.sh
# shellcheck source=deploy/lib.sh
source "$HERE/../lib.sh"

is_root() { [[ $EUID -eq 0 ]]; }

# Run a command as the OS user that owns the cluster: `postgres` when we are
# root, otherwise ourselves. cd / avoids "could not change directory" noise.
as_pg() {
  if is_root; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

have_server_binary() { compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; }

# apt path for a fresh machine. The drop-in stops the package from creating
# and starting the distro "main" cluster, which would grab port 5432 first.
ensure_installed() {
  have_server_binary && return 0
  is_root || die "PostgreSQL is not installed; run as root (apt-get install postgresql)"
  log "installing PostgreSQL from Debian (apt-get)"
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/yangpu-no-main.conf
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      postgresql >/dev/null
  have_server_binary || die "apt-get finished but no /usr/lib/postgresql/*/bin/postgres"
}

resolve_data_dir() {
  if [[ -n "${PG_DATA_DIR:-}" ]]; then DATA_DIR="$PG_DATA_DIR"; return; fi
  DATA_DIR="$REPO/var/postgres"
  if is_root && id postgres >/dev/null 2>&1; then
    mkdir -p "$REPO/var"
    if ! (cd / && runuser -u postgres -- test -x "$REPO/var"); then
      DATA_DIR="$FALLBACK_DATA_DIR"
    fi
  fi
}

# Server binaries matching an existing cluster's major version, else the newest.
resolve_bindir() {
  local ver=""
  [[ -f "$DATA_DIR/PG_VERSION" ]] && ver="$(cat "$DATA_DIR/PG_VERSION")"
  if [[ -n "$ver" ]]; then
    BIN="/usr/lib/postgresql/$ver/bin"
    [[ -x "$BIN/postgres" ]] || die "$DATA_DIR is a PostgreSQL $ver cluster but $BIN/postgres is missing"
  else
    BIN="$(dirname "$(printf '%s\n' /usr/lib/postgresql/*/bin/postgres | sort -V | tail -n1)")"
  fi
}

LOG_FILE() { echo "$DATA_DIR/postgres.log"; }

ensure_cluster() {
  [[ -f "$DATA_DIR/PG_VERSION" ]] && return 0
  if [[ -d "$DATA_DIR" ]] && [[ -n "$(ls -A "$DATA_DIR")" ]]; then
    die "$DATA_DIR exists, is not empty and is not a PostgreSQL cluster"
  fi
  mkdir -p "$DATA_DIR"
  is_root && chown postgres:postgres "$DATA_DIR"
  chmod 700 "$DATA_DIR"
  local locale=C
  locale -a 2>/dev/null | grep -qix 'c\.utf-\?8' && locale=C.UTF-8
  log "creating cluster in $DATA_DIR ($("$BIN/postgres" --version))"
  # Local socket: trust, but the socket lives in the 0700 data dir, so only the
  # cluster's OS user (and root) can use it. TCP: passwords (scram-sha-256).
  as_pg "$BIN/initdb" -D "$DATA_DIR" -U postgres -E UTF8 --locale="$locale" \
      --auth-local=trust --auth-host=scram-sha-256 >/dev/null \
    || die "initdb failed"
  echo "include_if_exists = 'yangpu.conf'" | as_pg tee -a "$DATA_DIR/postgresql.conf" >/dev/null
}

# Our settings, rewritten on every start so edits here take effect.
write_config() {
  as_pg tee "$DATA_DIR/yangpu.conf" >/dev/null <<EOF
# Written by deploy/postgres/postgres.sh on every start; edit the script.
listen_addresses = '$HOST'          # loopback only
port = $PORT
unix_socket_directories = '$DATA_DIR'
unix_socket_permissions = 0700
max_connections = 200               # tests open many pools
shared_buffers = 256MB
# Durability stays on: tests check that committed data survives restarts.
fsync = on
synchronous_commit = on
full_page_writes = on
logging_collector = off             # pg_ctl -l writes $(LOG_FILE)
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

running() { as_pg "$BIN/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1; }
ready() { "$BIN/pg_isready" -q -h "$HOST" -p "$PORT" -t 2; }
port_open() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

# Something else holds 5432: stop it if it is a Debian-managed cluster
# (e.g. the package's "main" cluster), otherwise give up with a clear message.
free_port() {
  port_open || return 0
  if command -v pg_lsclusters >/dev/null && is_root; then
    local ver name port status
    while read -r ver name port status _; do
      if [[ "$port" == "$PORT" && "$status" == online* ]]; then
        log "stopping Debian cluster $ver/$name that occupies port $PORT"
        pg_ctlcluster "$ver" "$name" stop
      fi
    done < <(pg_lsclusters -h)
  fi
  local deadline=$((SECONDS + 5))   # give a stopping server time to let go
  while ((SECONDS < deadline)); do port_open || return 0; sleep 0.1; done
  die "$HOST:$PORT is in use by another process (not the cluster in $DATA_DIR)"
}

provision() {
  # CREATE DATABASE cannot run inside DO/transactions, hence \gexec.
  as_pg "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DATA_DIR" -p "$PORT" -U postgres -d postgres <<SQL
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
  ELSE
    ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
  END IF;
END
\$\$;
SELECT format('CREATE DATABASE %I OWNER $ROLE', d)
  FROM unnest(string_to_array('${DATABASES[*]}', ' ')) AS d
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d)
\gexec
SELECT format('ALTER DATABASE %I OWNER TO $ROLE', datname)
  FROM pg_database
 WHERE datname = ANY (string_to_array('${DATABASES[*]}', ' '))
   AND datdba <> (SELECT oid FROM pg_roles WHERE rolname = '$ROLE')
\gexec
SQL
}

do_start() {
  ensure_installed
  resolve_data_dir
  resolve_bindir
  ensure_cluster
  write_config
  if running; then
    log "already running (data $DATA_DIR)"
  else
    free_port
    log "starting PostgreSQL on $HOST:$PORT (data $DATA_DIR, log $(LOG_FILE))"
    # pg_ctl detaches the postmaster (own session), so it outlives CI steps;
    # close_extra_fds keeps it from inheriting our caller's pipes and flock.
    ( close_extra_fds
      as_pg "$BIN/pg_ctl" -D "$DATA_DIR" -l "$(LOG_FILE)" -w -t 60 start >/dev/null ) \
      || { tail -n 30 "$(LOG_FILE)" >&2 || true; die "pg_ctl start failed"; }
  fi
  local deadline=$((SECONDS + 60))
  until ready; do
    ((SECONDS < deadline)) || { tail -n 30 "$(LOG_FILE)" >&2 || true; die "not ready after 60s"; }
    sleep 0.5
  done
  provision
  local IFS=,
  log "ready: postgresql://$ROLE:$PASSWORD@$HOST:$PORT/{${DATABASES[*]}}"
}

do_stop() {
  have_server_binary || { log "not installed"; return 0; }
  resolve_data_dir
  [[ -f "$DATA_DIR/PG_VERSION" ]] || { log "no cluster in $DATA_DIR"; return 0; }
  resolve_bindir
  if running; then
    as_pg "$BIN/pg_ctl" -D "$DATA_DIR" -m fast -w -t 60 stop >/dev/null
    log "stopped"
  else
    log "not running"
  fi
}

do_crash() {
  resolve_data_dir
  resolve_bindir
  running || die "not running (data $DATA_DIR)"
  ( close_extra_fds
    as_pg "$BIN/pg_ctl" -D "$DATA_DIR" -l "$(LOG_FILE)" -m immediate -w -t 60 restart >/dev/null ) \
    || { tail -n 30 "$(LOG_FILE)" >&2 || true; die "pg_ctl restart -m immediate failed"; }
  log "crashed and recovered (data $DATA_DIR)"
}

do_status() {
  if ! have_server_binary; then echo "postgres: not installed"; return 3; fi
  resolve_data_dir
  if [[ ! -f "$DATA_DIR/PG_VERSION" ]]; then echo "postgres: no cluster in $DATA_DIR"; return 3; fi
  resolve_bindir
  if running && ready; then
    echo "postgres: running on $HOST:$PORT, data $DATA_DIR"; return 0
  fi
  echo "postgres: not running (data $DATA_DIR)"; return 3
}

run_commands "$REPO/var/.postgres.sh.lock" "start stop status restart crash" "$@"
