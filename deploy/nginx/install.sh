#!/usr/bin/env bash
# Install Debian's nginx (nginx-light when the release has it, else nginx), openssl and envsubst
# (gettext-base) for the TLS proxy (deploy/nginx/nginx.sh), its test (tests/deploy/test_proxy.py) and its
# image (deploy/nginx/Dockerfile).
#
#   deploy/nginx/install.sh
#
# Idempotent: does nothing when all three are there. The proxy runs with a configuration of its own, so the package's system service must not start and hold :80: service starts are forbidden during
# the install (policy-rc.d) and the service is stopped and disabled if something started it anyway.
set -euo pipefail

log() { echo "nginx/install.sh: $*" >&2; }

have_nginx() { command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]]; }

have_tools() { have_nginx && command -v openssl >/dev/null 2>&1 && command -v envsubst >/dev/null 2>&1; }

if have_tools; then
  log "nginx, openssl and envsubst already installed ($( (nginx -v || /usr/sbin/nginx -v) 2>&1 | head -n1))"
  exit 0
fi
if [[ $EUID -ne 0 ]]; then
  log "ERROR: nginx/openssl/envsubst missing; run as root or: apt-get install nginx-light openssl gettext-base"
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# policy-rc.d exit 101 = "action forbidden": invoke-rc.d then starts no service while we install.
POLICY=/usr/sbin/policy-rc.d
created_policy=""
if [[ ! -e "$POLICY" ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  created_policy=1
fi
cleanup() { [[ -n "$created_policy" ]] && rm -f "$POLICY"; return 0; }
trap cleanup EXIT

apt-get update -qq
package=nginx
# nginx-light (Debian 12 and older) is enough: ssl, proxy, map, return.
if apt-cache show nginx-light >/dev/null 2>&1; then package=nginx-light; fi
log "installing Debian's $package, openssl and gettext-base"
apt-get install -y -qq --no-install-recommends "$package" openssl gettext-base >/dev/null

if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
  systemctl disable --now nginx >/dev/null 2>&1 || true
fi
if [[ -x /etc/init.d/nginx ]]; then
  /etc/init.d/nginx stop >/dev/null 2>&1 || true
  update-rc.d nginx disable >/dev/null 2>&1 || true
fi

have_tools || { log "ERROR: install incomplete"; exit 1; }
log "installed: $( (nginx -v || /usr/sbin/nginx -v) 2>&1 | head -n1)"
