#!/usr/bin/env bash
# Install Alertmanager and amtool from Debian's `prometheus-alertmanager` package when either is missing.
#
#   deploy/alertmanager/install.sh
#
# Idempotent: does nothing when both binaries are on PATH. The tests start their own Alertmanager with a
# generated config on a free port, so the package's system service must not hold :9093 (nor its cluster
# port :9094): see install_without_service in deploy/lib.sh.
set -euo pipefail
SCRIPT=alertmanager/install.sh
source "$(dirname "$0")/../lib.sh"

# Debian installs the server as prometheus-alertmanager; the upstream name `alertmanager` is what the
# docs, the tests and people type, so a link is made next to it.
have_tools() { command -v amtool >/dev/null 2>&1 && command -v alertmanager >/dev/null 2>&1; }

link_upstream_name() {
  if ! command -v alertmanager >/dev/null 2>&1 && command -v prometheus-alertmanager >/dev/null 2>&1; then
    [[ $EUID -eq 0 ]] || die "alertmanager is installed as prometheus-alertmanager; run as root to link it"
    ln -s "$(command -v prometheus-alertmanager)" /usr/local/bin/alertmanager
  fi
}

if have_tools; then
  log "amtool and alertmanager already installed ($(alertmanager --version 2>&1 | head -n1))"
  exit 0
fi
if ! command -v amtool >/dev/null 2>&1 || ! command -v prometheus-alertmanager >/dev/null 2>&1; then
  install_without_service prometheus-alertmanager prometheus-alertmanager
fi
link_upstream_name
have_tools || die "install incomplete"
log "installed: $(alertmanager --version 2>&1 | head -n1)"
