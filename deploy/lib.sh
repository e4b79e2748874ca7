# Shared by deploy/kafka/kafka.sh and deploy/postgres/postgres.sh (sourced, not run).
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
