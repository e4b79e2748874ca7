#!/usr/bin/env bash
# The TLS proxy (Debian's nginx) in front of a running stack's three web services, on this machine.
#
#   deploy/nginx/nginx.sh start|stop|status|restart|run
#
# start   render deploy/nginx/nginx.conf.template into $VAR_DIR/nginx, make the self-signed certificate if
#         no real one is set, check the configuration (nginx -t), start nginx in the background and wait
#         until every port answers. A running proxy is reloaded with the new configuration.
# stop    fast shutdown (SIGTERM), wait; SIGKILL as a last resort.
# status  exit 0 when running, 3 otherwise.
# run     render and certify as start, then nginx in the foreground (the compose service's command).
#
# Environment (defaults in brackets):
#   VAR_DIR            the stack's VAR_DIR [<repo>/var]; the proxy's files go to $VAR_DIR/nginx
#   PROXY_HOST         address to listen on [127.0.0.1]
#   PROXY_HTTP_PORT    plain HTTP, redirects only [8080]
#   INTAKE_TLS_PORT ROUTING_TLS_PORT SLA_TLS_PORT   HTTPS per service [8443 8444 8445]
#   INTAKE_UPSTREAM ROUTING_UPSTREAM SLA_UPSTREAM   host:port of each web process
#                      [127.0.0.1:$INTAKE_PORT etc., themselves 8001 8002 8003 by default]
#   TLS_CERT_PATH TLS_KEY_PATH   a real certificate (PEM, chain included) and its key; both or neither.
#                      Neither: a CA of our own ($VAR_DIR/nginx/tls/ca.pem, for clients to trust) signs a
#                      certificate for localhost, 127.0.0.1, ::1 and TLS_SERVER_NAMES (space-separated DNS
#                      names) [localhost]; made once, kept while it lasts.
#   NGINX_USER         workers' user when started as root [www-data]
#
# The services behind it need TRUSTED_PROXIES=1 (so their cookies are Secure) and, for their pages' links,
# INTAKE_URL=https://<host>:$INTAKE_TLS_PORT etc. with INTAKE_INTERNAL_URL=http://127.0.0.1:$INTAKE_PORT etc.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VAR_DIR="$(mkdir -p "${VAR_DIR:-$REPO/var}" && cd "${VAR_DIR:-$REPO/var}" && pwd)"
NGINX_DIR="$VAR_DIR/nginx"
TLS_DIR="$NGINX_DIR/tls"
CONF="$NGINX_DIR/nginx.conf"
PID_FILE="$NGINX_DIR/nginx.pid"

export NGINX_DIR
export NGINX_USER="${NGINX_USER:-www-data}"
export NGINX_ERROR_LOG="${NGINX_ERROR_LOG:-$NGINX_DIR/error.log}"
export PROXY_HOST="${PROXY_HOST:-127.0.0.1}"
export PROXY_HTTP_PORT="${PROXY_HTTP_PORT:-8080}"
export INTAKE_TLS_PORT="${INTAKE_TLS_PORT:-8443}"
export ROUTING_TLS_PORT="${ROUTING_TLS_PORT:-8444}"
export SLA_TLS_PORT="${SLA_TLS_PORT:-8445}"
export INTAKE_UPSTREAM="${INTAKE_UPSTREAM:-127.0.0.1:${INTAKE_PORT:-8001}}"
export ROUTING_UPSTREAM="${ROUTING_UPSTREAM:-127.0.0.1:${ROUTING_PORT:-8002}}"
export SLA_UPSTREAM="${SLA_UPSTREAM:-127.0.0.1:${SLA_PORT:-8003}}"
TLS_SERVER_NAMES="${TLS_SERVER_NAMES:-localhost}"
TEMPLATE_KEYS='${NGINX_DIR} ${NGINX_USER} ${NGINX_ERROR_LOG} ${PROXY_HOST} ${PROXY_HTTP_PORT} ${INTAKE_TLS_PORT}
${ROUTING_TLS_PORT} ${SLA_TLS_PORT} ${INTAKE_UPSTREAM} ${ROUTING_UPSTREAM} ${SLA_UPSTREAM} ${TLS_CERT_PATH}
${TLS_KEY_PATH}'

SCRIPT=nginx.sh
# shellcheck source=deploy/lib.sh
source "$HERE/../lib.sh"

nginx_bin() {
  command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } \
    || die "nginx is not installed; run deploy/nginx/install.sh"
}

# The real certificate when both paths are set; otherwise our CA and a certificate it signed.
ensure_certificate() {
  if [[ -n "${TLS_CERT_PATH:-}" || -n "${TLS_KEY_PATH:-}" ]]; then
    [[ -r "${TLS_CERT_PATH:-}" && -r "${TLS_KEY_PATH:-}" ]] \
      || die "TLS_CERT_PATH and TLS_KEY_PATH must both name readable files"
    return 0
  fi
  export TLS_CERT_PATH="$TLS_DIR/cert.pem" TLS_KEY_PATH="$TLS_DIR/key.pem"
  command -v openssl >/dev/null || die "openssl is not installed; run deploy/nginx/install.sh"
  mkdir -p "$TLS_DIR"
  chmod 700 "$TLS_DIR"
  if [[ ! -s "$TLS_DIR/ca.pem" || ! -s "$TLS_DIR/ca.key" ]]; then
    log "making a certificate authority of our own ($TLS_DIR/ca.pem: the one file clients must trust)"
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
      -subj "/O=Yangpu enterprise demands/CN=Yangpu local CA" \
      -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem" 2>/dev/null
    rm -f "$TLS_CERT_PATH"
  fi
  local san="DNS:localhost,IP:127.0.0.1,IP:::1" name
  for name in $TLS_SERVER_NAMES; do [[ "$name" == localhost ]] || san+=",DNS:$name"; done
  # A new certificate when there is none, it ends within a week, or it names other hosts.
  if [[ -s "$TLS_CERT_PATH" ]] && openssl x509 -in "$TLS_CERT_PATH" -noout -checkend 604800 >/dev/null \
      && [[ "$(cat "$TLS_DIR/cert.san" 2>/dev/null)" == "$san" ]]; then
    return 0
  fi
  log "making the proxy's certificate for $san (signed by $TLS_DIR/ca.pem)"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=${TLS_SERVER_NAMES%% *}" \
      -keyout "$TLS_KEY_PATH" -out "$TLS_DIR/cert.csr" 2>/dev/null
  openssl x509 -req -in "$TLS_DIR/cert.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca.key" -CAcreateserial \
      -days 365 -out "$TLS_CERT_PATH" -extfile <(printf '%s\n' "subjectAltName=$san" \
        "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth") \
      2>/dev/null
  chmod 600 "$TLS_KEY_PATH" "$TLS_DIR/ca.key"
  echo "$san" >"$TLS_DIR/cert.san"
  rm -f "$TLS_DIR/cert.csr"
}

render() {
  ensure_certificate
  mkdir -p "$NGINX_DIR/tmp"
  envsubst "$TEMPLATE_KEYS" <"$HERE/nginx.conf.template" >"$CONF.tmp"
  "$(nginx_bin)" -t -q -p "$NGINX_DIR" -e stderr -c "$CONF.tmp" || die "the rendered configuration is invalid"
  mv "$CONF.tmp" "$CONF"
}

running() { [[ -s "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

do_start() {
  render
  if running; then
    "$(nginx_bin)" -p "$NGINX_DIR" -e stderr -c "$CONF" -s reload
    log "running; reloaded ($CONF)"
    return 0
  fi
  # nginx daemonises (its own session); close_extra_fds keeps it from holding our caller's pipes and lock.
  ( close_extra_fds; "$(nginx_bin)" -p "$NGINX_DIR" -e "$NGINX_DIR/error.log" -c "$CONF" ) \
    || { tail -n 20 "$NGINX_DIR/error.log" >&2 || true; die "nginx did not start"; }
  local host="$PROXY_HOST" port deadline=$((SECONDS + 10))
  [[ "$host" == 0.0.0.0 ]] && host=127.0.0.1
  for port in "$PROXY_HTTP_PORT" "$INTAKE_TLS_PORT" "$ROUTING_TLS_PORT" "$SLA_TLS_PORT"; do
    until port_open "$host" "$port"; do
      ((SECONDS < deadline)) || { tail -n 20 "$NGINX_DIR/error.log" >&2 || true; die "$host:$port not open"; }
      sleep 0.1
    done
  done
  log "ready: https://$host:{$INTAKE_TLS_PORT,$ROUTING_TLS_PORT,$SLA_TLS_PORT} -> $INTAKE_UPSTREAM," \
      "$ROUTING_UPSTREAM, $SLA_UPSTREAM; http://$host:$PROXY_HTTP_PORT redirects"
}

do_stop() {
  running || { log "not running"; return 0; }
  local pid deadline=$((SECONDS + 10))
  pid="$(cat "$PID_FILE")"
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then kill -KILL "$pid" 2>/dev/null || true; break; fi
    sleep 0.1
  done
  rm -f "$PID_FILE"
  log "stopped"
}

do_status() {
  if running; then echo "nginx: running (pid $(cat "$PID_FILE"), $CONF)"; return 0; fi
  echo "nginx: not running ($NGINX_DIR)"; return 3
}

do_run() {
  NGINX_ERROR_LOG=/dev/stderr
  render
  exec "$(nginx_bin)" -p "$NGINX_DIR" -e stderr -c "$CONF" -g "daemon off;"
}

if [[ "${1:-}" == run ]]; then do_run; fi  # the foreground process holds no lock
run_commands "$NGINX_DIR/.nginx.sh.lock" "start stop status restart" "$@"
