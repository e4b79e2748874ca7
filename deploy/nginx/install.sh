#!/usr/bin/env bash
# Install Debian's nginx (nginx-light when the release has it, else nginx), openssl and envsubst
# (gettext-base) for the TLS proxy (deploy/nginx/nginx.sh), its test (tests/deploy/test_proxy.py) and its
# image (deploy/nginx/Dockerfile).
#
#   deploy/nginx/install.sh
#
# Idempotent: does nothing when all three are there. The proxy runs with a configuration of its own, so
# the package's system service must not start and hold :80 (see install_without_service in deploy/lib.sh).
set -euo pipefail

SCRIPT=nginx/install.sh
source "$(dirname "$0")/../lib.sh"

have_nginx() { command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]]; }

have_tools() { have_nginx && command -v openssl >/dev/null 2>&1 && command -v envsubst >/dev/null 2>&1; }

if have_tools; then
  log "nginx, openssl and envsubst already installed ($( (nginx -v || /usr/sbin/nginx -v) 2>&1 | head -n1))"
  exit 0
fi
package=nginx
# nginx-light (Debian 12 and older) is enough: ssl, proxy, map, return.
if apt-cache show nginx-light >/dev/null 2>&1; then package=nginx-light; fi
install_without_service nginx "$package" openssl gettext-base

have_tools || die "install incomplete"
log "installed: $( (nginx -v || /usr/sbin/nginx -v) 2>&1 | head -n1)"
