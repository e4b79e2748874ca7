#!/usr/bin/env bash
# Install Prometheus and promtool from Debian's `prometheus` package when either is missing.
#
#   deploy/prometheus/install.sh
#
# Idempotent: does nothing when both binaries are on PATH. The tests start their own Prometheus with a
# generated config, so the package's system service must not hold :9090 (see install_without_service).
set -euo pipefail
SCRIPT=prometheus/install.sh
source "$(dirname "$0")/../lib.sh"

have_tools() { command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; }

if have_tools; then
  log "promtool and prometheus already installed ($(prometheus --version 2>&1 | head -n1))"
  exit 0
fi
install_without_service prometheus prometheus
have_tools || die "install incomplete"
log "installed: $(prometheus --version 2>&1 | head -n1)"
