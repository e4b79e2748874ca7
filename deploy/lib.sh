# Shared by the scripts of deploy/ (sourced, not run): kafka.sh, postgres.sh, the install scripts.
# Each script sets SCRIPT (its name for messages) before sourcing this file.

log() { echo "$SCRIPT: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Close every fd above 2 in the current (sub)shell, so a daemon started from
# it cannot hold a caller's pipe open (CI log capture would never see EOF and
# hang) nor our flock.
close_extra_fds() {
  local fd
  for fd in /proc/"$BASHPID"/fd/*; do
    fd="${fd##*/}"
    if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
}

# run_commands LOCK_FILE USAGE CMD: run do_<CMD> holding LOCK_FILE (concurrent start/stop calls from
# parallel CI steps and test fixtures are serialised); `status` runs unlocked; `restart` is stop + start.
run_commands() {
  local lock="$1" usage="$2" cmd="${3:-}"
  if [[ -z "$cmd" || ! " $usage " == *" $cmd "* ]]; then
    echo "usage: $0 ${usage// /|}" >&2; exit 2
  fi
  if [[ "$cmd" == status ]]; then do_status; return; fi
  mkdir -p "$(dirname "$lock")"
  exec 9>"$lock"
  flock 9
  if [[ "$cmd" == restart ]]; then do_stop; do_start; else "do_$cmd"; fi
}

# install_without_service SERVICE PACKAGE...: apt-get install PACKAGEs (root) without letting the
# package's system SERVICE start and hold its port: our scripts and tests run their own instances with
# generated configurations. Service starts are forbidden during the install (policy-rc.d exit 101) and
# the service is stopped and disabled if something started it anyway.
install_without_service() {
  local service="$1"; shift
  [[ $EUID -eq 0 ]] || die "missing; run as root or: apt-get install $*"
  export DEBIAN_FRONTEND=noninteractive
  local policy=/usr/sbin/policy-rc.d created=""
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created=1
  fi
  log "installing Debian's $*"
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  local status=$?
  [[ -n "$created" ]] && rm -f "$policy"
  ((status == 0)) || die "apt-get install $* failed"
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    systemctl disable --now "$service" >/dev/null 2>&1 || true
  fi
  if [[ -x /etc/init.d/$service ]]; then
    /etc/init.d/"$service" stop >/dev/null 2>&1 || true
    update-rc.d "$service" disable >/dev/null 2>&1 || true
  fi
}
