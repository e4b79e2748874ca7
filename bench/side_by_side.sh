#!/usr/bin/env bash
# Side by side, in one run, on one PostgreSQL server: django-helpdesk 2.6.1 (DRF token, persistent
# connections, 2 gunicorn workers) and the Yangpu suite in production mode (PostgreSQL + Kafka, the whole
# suite running, 2 gunicorn workers per service). Same wrk settings for both (bench/post-*.lua). Every
# row carries the CPU seconds of every process over its window, read from /proc (web, workers,
# PostgreSQL, the broker; bench/procs.py), as ms per ticket or demand.
#
#   bench/side_by_side.sh            (after `make servers`; installs wrk and a django-helpdesk venv once)
# env: RUNS (1): repeat the whole comparison, then print the median of each figure
#      DURATION (20s) WARMUP (5s) CONNS ("8 1") HD_PORT (8082) SKIP_HD=1 SKIP_YP=1
#      SUITE_PHASES ("wrk latency sustain"), SUSTAIN_S (60), LATENCY_S (30): the suite's offered-rate phases
#      WORK (var/peers): the helpdesk venv and the results
# Results: WORK/side-by-side-<time>/results.tsv (one row per figure and run) and medians.txt.
# Started from ../shared/peers/side-by-side.sh; the suite's half is bench/suite_side.py.
set -euo pipefail
P=$(cd "$(dirname "$0")/.." && pwd)
HERE=$P/bench
WORK=${WORK:-$P/var/peers}
RES=$WORK/side-by-side-$(date -u +%Y%m%dT%H%M%S)
mkdir -p "$RES"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
DURATION=${DURATION:-20s}; WARMUP=${WARMUP:-5s}; CONNS=${CONNS:-"8 1"}; HD_PORT=${HD_PORT:-8082}; RUNS=${RUNS:-1}
PY=$P/.venv/bin/python
PGDATA_DIR=${PG_DATA_DIR:-$P/var/postgres}
pgsu() { (cd / && runuser -u postgres -- psql -X -qtA -h "$PGDATA_DIR" -p 5432 -U postgres "$@"); }
q() { pgsu -d "$1" -c "$2"; }
TSV=$RES/results.tsv
: > "$TSV"

wrk_run() {  # lua url conns dur out
  local t=2; [ "$3" = 1 ] && t=1
  wrk -t"$t" -c"$3" -d"$4" --timeout 30s --latency -s "$1" "$2" > "$5" 2>&1
}
parse() {  # file -> "req_s p50 p99 2xx non2xx"
  awk '/^Requests\/sec/{r=$2} /^LATENCY_US/{split($2,a,"=");split($4,b,"=");p50=a[2]/1000;p99=b[2]/1000}
       /^STATUS/{if($2>=200&&$2<300)ok+=$3; else bad+=$3}
       END{printf "%s %.1f %.1f %d %d\n", r, p50, p99, ok, bad}' "$1"
}

helpdesk_setup() {
  HD=$HERE/helpdesk; HDV=$WORK/helpdesk-venv
  pgsu -d postgres -c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='helpdesk') THEN CREATE ROLE helpdesk LOGIN PASSWORD 'helpdeskpass'; END IF; END \$\$;"
  pgsu -d postgres -c "SELECT 1 FROM pg_database WHERE datname='helpdesk'" | grep -q 1 || pgsu -d postgres -c "CREATE DATABASE helpdesk OWNER helpdesk"
  [ -x "$HDV/bin/python" ] || python3 -m venv "$HDV"
  "$HDV/bin/python" -c "import helpdesk" 2>/dev/null || "$HDV/bin/pip" install -q "django-helpdesk==2.6.1" gunicorn "psycopg[binary]" 2>&1 | tail -2
  (cd "$HD/project" && HD_DB_PASSWORD=helpdeskpass "$HDV/bin/python" manage.py migrate --noinput -v 0 &&
   HD_DB_PASSWORD=helpdeskpass "$HDV/bin/python" manage.py shell -v 0 <<PYEOF
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from helpdesk.models import Queue
U = get_user_model()
u, _ = U.objects.get_or_create(username="bench", defaults={"email": "bench@localhost"})
u.is_staff = True; u.is_superuser = True; u.set_password("benchpass"); u.save()
t, _ = Token.objects.get_or_create(user=u)
q, _ = Queue.objects.get_or_create(slug="general", defaults={"title": "General", "allow_public_submission": False})
open("$WORK/hd-token.txt", "w").write(t.key + "\n"); open("$WORK/hd-queue.txt", "w").write(str(q.id) + "\n")
PYEOF
  )
}

helpdesk_run() {  # run-number
  export QUEUE; QUEUE=$(cat "$WORK/hd-queue.txt"); export AUTH="Token $(cat "$WORK/hd-token.txt")"
  (cd "$HD/project" && HD_DB_PASSWORD=helpdeskpass HD_CONN_MAX_AGE=60 exec setsid "$HDV/bin/gunicorn" \
     -w 2 -b 127.0.0.1:$HD_PORT benchsite.wsgi:application > "$RES/helpdesk-server.log" 2>&1) &
  for _ in $(seq 1 60); do curl -s -o /dev/null "http://127.0.0.1:$HD_PORT/" && break; sleep 0.5; done
  local hdpid; hdpid=$(pgrep -f "gunicorn -w 2 -b 127.0.0.1:$HD_PORT" | head -1)
  for c in $CONNS; do
    wrk_run "$HERE/post-helpdesk.lua" "http://127.0.0.1:$HD_PORT" "$c" "$WARMUP" "$RES/hd-warm-c$c-r$1.txt"; sleep 2
    local n0 n1; n0=$(q helpdesk "SELECT count(*) FROM helpdesk_ticket")
    "$PY" "$HERE/procs.py" snapshot "$RES/.cpu0"
    wrk_run "$HERE/post-helpdesk.lua" "http://127.0.0.1:$HD_PORT" "$c" "$DURATION" "$RES/hd-c$c-r$1.txt"; sleep 1
    "$PY" "$HERE/procs.py" snapshot "$RES/.cpu1"
    n1=$(q helpdesk "SELECT count(*) FROM helpdesk_ticket")
    read -r r p50 p99 ok bad < <(parse "$RES/hd-c$c-r$1.txt")
    local cpu; cpu=$("$PY" "$HERE/procs.py" diff "$RES/.cpu0" "$RES/.cpu1" "$((n1-n0))" --json)
    echo -e "django-helpdesk c$c\t{\"rate\": $r, \"p50\": $p50, \"p99\": $p99, \"ok\": $ok, \"bad\": $bad, \"tickets\": $((n1-n0)), $cpu}" | tee -a "$TSV"
  done
  kill -TERM -- -"$(ps -o pgid= -p "$hdpid" | tr -d ' ')" 2>/dev/null || kill "$hdpid"; sleep 2
}

[ -n "${SKIP_HD:-}" ] || helpdesk_setup
for run in $(seq 1 "$RUNS"); do
  [ -n "${SKIP_HD:-}" ] || helpdesk_run "$run"
  [ -n "${SKIP_YP:-}" ] || "$PY" "$HERE/suite_side.py" --tsv "$TSV" --conns "$CONNS" --duration "$DURATION" \
    --warmup "$WARMUP" --phases "${SUITE_PHASES:-wrk latency sustain}" --sustain-seconds "${SUSTAIN_S:-60}" \
    --latency-seconds "${LATENCY_S:-30}"
done
"$PY" "$HERE/procs.py" medians "$TSV" | tee "$RES/medians.txt"
echo "results: $TSV"
