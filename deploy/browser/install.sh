#!/usr/bin/env bash
# Install Debian's Chromium (and CJK fonts, so Chinese pages render in screenshots) for the end-to-end
# tests in tests/e2e, which drive it with Playwright (never Playwright's own browser downloads).
# Idempotent: does nothing when both are there. Needs root (apt-get), as on the CI machine.
set -euo pipefail

packages=()
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || packages+=(fonts-noto-cjk)

if [ ${#packages[@]} -eq 0 ]; then
  echo "browser: chromium and fonts-noto-cjk already installed"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}"
echo "browser: installed ${packages[*]} ($(chromium --version 2>/dev/null || true))"
