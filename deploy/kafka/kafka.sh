#!/usr/bin/env bash
# Single-node Apache Kafka 4.3.1 (KRaft) for development and tests.
#
#   deploy/kafka/kafka.sh start|stop|status|restart|kill
#
# start   download broker jars with Maven (skipped when lib/ is complete),
#         format KRaft storage once, start the broker in the background and
#         wait until it really serves 127.0.0.1:9092. No-op if already running.
# stop    SIGTERM (controlled shutdown), wait, SIGKILL as a last resort.
# status  exit 0 when running and answering, 3 otherwise.
# restart stop + start; data survives (tests use it to prove durability).
# kill    SIGKILL, no shutdown at all (the fault tests' broker crash).
#
# Environment:
#   KAFKA_DATA_DIR        data dir (default <repo>/var/kafka, gitignored)
#   KAFKA_PORT            client port (default 9092); the controller listens on KAFKA_CONTROLLER_PORT
#                         (default 9093). The fault tests run a second broker of their own this way.
#   KAFKA_HEAP_OPTS       JVM heap (default "-Xms256m -Xmx512m")
#   KAFKA_START_TIMEOUT   seconds to wait for readiness (default 90)
#   KAFKA_STOP_TIMEOUT    seconds to wait for clean shutdown (default 60)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DATA_DIR="${KAFKA_DATA_DIR:-$REPO/var/kafka}"
LIB_DIR="$HERE/lib"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
BOOTSTRAP="127.0.0.1:$PORT"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-60}"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"

PID_FILE="$DATA_DIR/kafka.pid"
EFFECTIVE_CONF="$DATA_DIR/server.effective.properties"
LOG_FILE="$DATA_DIR/server.log"     # written by log4j2 (WARN+)
OUT_FILE="$DATA_DIR/kafka.out"      # JVM stdout/stderr (crashes, OOM)
LIB_STAMP="$LIB_DIR/.complete"      # sha256 of pom.xml of the last good download

SCRIPT=kafka.sh
# shellcheck source=deploy/lib.sh
source "$HERE/../lib.sh"

java_bin() {
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then echo "$JAVA_HOME/bin/java"; else echo java; fi
}

# A fresh CI box is supposed to have JDK 17 + Maven; install them if not (root only).
ensure_tools() {
  local missing=()
  command -v "$(java_bin)" >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
  if [[ ! -f "$LIB_STAMP" ]] && ! command -v mvn >/dev/null 2>&1; then missing+=(maven); fi
  ((${#missing[@]} == 0)) && return 0
  [[ $EUID -eq 0 ]] || die "missing ${missing[*]}; install them (apt-get install ${missing[*]})"
  log "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Broker jars -> lib/. Skipped when lib/ was filled from the current pom.xml.
# Offline first (local ~/.m2 cache), online only if that fails.
ensure_jars() {
  local want
  want="$(sha256sum "$HERE/pom.xml" | cut -d' ' -f1)"
  if [[ -f "$LIB_STAMP" && "$(cat "$LIB_STAMP")" == "$want" ]]; then return 0; fi
  log "fetching Kafka broker jars into $LIB_DIR (maven)"
  rm -rf "$LIB_DIR"   # drop jars of an older pom.xml
  local mvn_args=(-B -q -Dstyle.color=never -f "$HERE/pom.xml" dependency:copy-dependencies
                  -DoutputDirectory="$LIB_DIR" -DincludeScope=runtime)
  if ! mvn -o "${mvn_args[@]}" >/dev/null 2>&1; then
    rm -rf "$LIB_DIR"
    mvn "${mvn_args[@]}" || die "maven could not download the Kafka jars"
  fi
  ls "$LIB_DIR"/kafka_2.13-*.jar >/dev/null 2>&1 || die "maven ran but $LIB_DIR has no kafka_2.13 jar"
  echo "$want" >"$LIB_STAMP"
}

# Effective config = repo server.properties + this machine's data dir.
write_config() {
  mkdir -p "$DATA_DIR/logs"
  {
    cat "$HERE/server.properties"
    echo
    echo "# --- added by kafka.sh ---"
    echo "log.dirs=$DATA_DIR/logs"
    # Later keys win in a properties file: this machine's ports.
    echo "controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT"
    echo "listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT"
    echo "advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT"
  } >"$EFFECTIVE_CONF"
}

JVM_COMMON=()
set_jvm_opts() {
  # shellcheck disable=SC2206  # HEAP_OPTS is intentionally word-split
  JVM_COMMON=($HEAP_OPTS
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
    -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true
    -Dkafka.logs.dir="$DATA_DIR"
    -Dlog4j2.configurationFile="$HERE/log4j2.properties"
    -cp "$LIB_DIR/*")
}

# KRaft storage must be formatted exactly once; meta.properties marks it done.
ensure_formatted() {
  [[ -f "$DATA_DIR/logs/meta.properties" ]] && return 0
  local cluster_id
  cluster_id="$("$(java_bin)" "${JVM_COMMON[@]}" kafka.tools.StorageTool random-uuid)"
  log "formatting KRaft storage in $DATA_DIR/logs (cluster id $cluster_id)"
  "$(java_bin)" "${JVM_COMMON[@]}" kafka.tools.StorageTool format \
      --config "$EFFECTIVE_CONF" --cluster-id "$cluster_id" --standalone --ignore-formatted \
      >>"$OUT_FILE" 2>&1 || { tail -n 20 "$OUT_FILE" >&2; die "storage format failed"; }
  echo "$cluster_id" >"$DATA_DIR/cluster.id"
}

# PID of our broker: from the pid file, else a java process started with our
# effective config (e.g. the pid file was deleted). Empty if none.
broker_pid() {
  local pid=""
  if [[ -f "$PID_FILE" ]]; then
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null \
       && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka"; then
      echo "$pid"; return 0
    fi
    rm -f "$PID_FILE"   # stale
  fi
  pid="$(pgrep -f "kafka\.Kafka $EFFECTIVE_CONF" | head -n1 || true)"
  [[ -n "$pid" ]] && echo "$pid" >"$PID_FILE" && echo "$pid"
  return 0
}

port_open() { (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; }

# Python with kafka-python: the repo venv first, then the system python.
kafka_python() {
  local py
  for py in "$REPO/.venv/bin/python" python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import kafka' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  return 1
}

# Readiness = admin can create/list a topic and an acks=all produce succeeds.
# Loops until the deadline; exits 2 at once if the broker process died.
PY_READY='
import os, sys, time, socket, logging
logging.disable(logging.CRITICAL)          # client retries are expected noise
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
bootstrap, deadline, pid = sys.argv[1], time.time() + float(sys.argv[2]), int(sys.argv[3])
topic, last = "_yangpu_healthcheck", None
while time.time() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(2)
    # Cheap TCP probe first: a kafka-python client built while the port is
    # still closed sits in reconnect backoff for seconds.
    try:
        socket.create_connection((bootstrap.split(":")[0], int(bootstrap.split(":")[1])), 1).close()
    except OSError as exc:
        last = exc
        time.sleep(0.2)
        continue
    admin = producer = None
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="kafka.sh-ready",
                                 request_timeout_ms=5000)
        try:
            admin.create_topics([NewTopic(topic, 1, 1)])
        except TopicAlreadyExistsError:
            pass
        if topic not in admin.list_topics():
            raise RuntimeError("health-check topic not listed yet")
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                 client_id="kafka.sh-ready", request_timeout_ms=5000)
        producer.send(topic, b"ping").get(timeout=10)
        sys.exit(0)
    except SystemExit:
        raise
    except Exception as exc:
        last = exc
        time.sleep(0.5)
    finally:
        for c in (producer, admin):
            if c is not None:
                try: c.close()
                except Exception: pass
print("last error: %r" % (last,), file=sys.stderr)
sys.exit(1)
'

wait_ready() {
  local pid="$1" py rc
  if py="$(kafka_python)"; then
    rc=0; "$py" -c "$PY_READY" "$BOOTSTRAP" "$START_TIMEOUT" "$pid" || rc=$?
    case $rc in
      0) return 0 ;;
      2) fail_start "broker process $pid exited during startup" ;;
      *) fail_start "broker not ready on $BOOTSTRAP after ${START_TIMEOUT}s" ;;
    esac
  fi
  # No Python client: port open + the broker's own "started" log line.
  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || fail_start "broker process $pid exited during startup"
    if port_open "$BOOTSTRAP" && grep -q "Kafka Server started" "$LOG_FILE" 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  fail_start "broker not ready on $BOOTSTRAP after ${START_TIMEOUT}s"
}

STARTED_PID=""   # set once this invocation launched a broker
fail_start() {
  log "ERROR: $*"
  log "---- tail of $LOG_FILE ----"; tail -n 40 "$LOG_FILE" >&2 2>/dev/null || true
  log "---- tail of $OUT_FILE ----"; tail -n 20 "$OUT_FILE" >&2 2>/dev/null || true
  # Don't leave a half-started broker behind: the next `start` should begin clean.
  if [[ -n "$STARTED_PID" ]] && kill -0 "$STARTED_PID" 2>/dev/null; then
    log "stopping the broker that failed to become ready (pid $STARTED_PID)"
    STOP_TIMEOUT=15 do_stop
  fi
  exit 1
}

do_start() {
  local pid
  pid="$(broker_pid)"
  if [[ -n "$pid" ]]; then
    wait_ready "$pid"
    log "already running (pid $pid) on $BOOTSTRAP"
    return 0
  fi
  if port_open "$BOOTSTRAP"; then
    die "$BOOTSTRAP is already in use by another process (not this data dir's broker)"
  fi
  ensure_tools
  ensure_jars
  write_config
  set_jvm_opts
  ensure_formatted

  log "starting broker (data dir $DATA_DIR)"
  # setsid: the broker must outlive this script and the CI step's process
  # group; it inherits no fds but stdio (see close_extra_fds).
  # Every partition holds open files: a broker serving thousands of test topics needs more than the
  # usual 1,024-20,000 descriptors (it shuts down when it runs out): as many as we may have.
  ( close_extra_fds
    ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    exec setsid "$(java_bin)" "${JVM_COMMON[@]}" kafka.Kafka "$EFFECTIVE_CONF" \
        >>"$OUT_FILE" 2>&1 </dev/null ) &
  pid=$!
  STARTED_PID=$pid
  echo "$pid" >"$PID_FILE"
  wait_ready "$pid"
  log "ready on $BOOTSTRAP (pid $pid)"
}

# end_broker TERM|KILL: send the signal to our broker and wait until it is gone. TERM is a controlled
# shutdown, followed by SIGKILL after STOP_TIMEOUT seconds; KILL is the crash the fault tests need.
end_broker() {
  local signal="$1" pid
  pid="$(broker_pid)"
  if [[ -z "$pid" ]]; then log "not running"; return 0; fi
  if [[ "$signal" == TERM ]]; then log "stopping broker (pid $pid)"; fi
  kill "-$signal" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then
    log "no clean shutdown after ${STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  fi
  rm -f "$PID_FILE"
  if [[ "$signal" == TERM ]]; then log "stopped"; else log "killed (pid $pid)"; fi
}

do_stop() { end_broker TERM; }
do_kill() { end_broker KILL; }

do_status() {
  local pid
  pid="$(broker_pid)"
  if [[ -n "$pid" ]] && port_open "$BOOTSTRAP"; then
    echo "kafka: running (pid $pid) on $BOOTSTRAP, data $DATA_DIR"; return 0
  elif [[ -n "$pid" ]]; then
    echo "kafka: process $pid alive but $BOOTSTRAP not answering"; return 3
  fi
  echo "kafka: not running"; return 3
}

run_commands "$DATA_DIR/.kafka.sh.lock" "start stop status restart kill" "$@"
