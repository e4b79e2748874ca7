#!/usr/bin/env bash
# Install Prometheus and promtool from Debian's `prometheus` package when either is missing.
#
#   deploy/prometheus/install.sh
#
# Idempotent: does nothing when both binaries are on PATH. The tests start their own Prometheus with a
# generated config, so the package's system service must not hold :9090: we forbid service starts
# during the install (policy-rc.d) and stop/disable the service if something started it anyway.
set -euo pipefail

log() { echo "prometheus/install.sh: $*" >&2; }

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  log "promtool and prometheus already installed ($(prometheus --version 2>&1 | head -n1))"
  exit 0
fi
if [[ $EUID -ne 0 ]]; then
  log "ERROR: prometheus/promtool missing; run as root or: apt-get install prometheus"
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

log "installing Debian's prometheus package"
apt-get update -qq
apt-get install -y -qq --no-install-recommends prometheus >/dev/null

# Belt and braces: if a service manager started it anyway, stop it and keep it from coming back.
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
  systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
if [[ -x /etc/init.d/prometheus ]]; then
  /etc/init.d/prometheus stop >/dev/null 2>&1 || true
  update-rc.d prometheus disable >/dev/null 2>&1 || true
fi

command -v promtool >/dev/null && command -v prometheus >/dev/null || { log "ERROR: install incomplete"; exit 1; }
log "installed: $(prometheus --version 2>&1 | head -n1)"
