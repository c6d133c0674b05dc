#!/usr/bin/env bash
# Installs and runs a local Spark standalone cluster for Sirocco's Spark
# integration: PySpark (from requirements-spark.txt) in a virtualenv, and a
# master plus one worker, all on 127.0.0.1.
#
#   scripts/spark.sh install   create the virtualenv (idempotent, quick when present)
#   scripts/spark.sh start     start master (7077, REST 6066, UI 18080) and worker (UI 18081)
#   scripts/spark.sh stop      stop them
#   scripts/spark.sh status    say what runs, and the master's state
#   scripts/spark.sh env       print export lines: eval "$(scripts/spark.sh env)"
#   scripts/spark.sh ports     check that the four ports are free (start does too)
#
# Settings (environment):
#   SIROCCO_PYSPARK_VENV  virtualenv (default ~/.cache/sirocco/pyspark-<version>)
#   SIROCCO_HOME          state directory (default ~/sirocco); the cluster's
#                         logs, pids, work and conf go to $SIROCCO_HOME/spark
#   SPARK_MASTER_PORT, SPARK_REST_PORT, SPARK_MASTER_UI_PORT, SPARK_WORKER_UI_PORT
#   SPARK_WORKER_CORES (4), SPARK_WORKER_MEMORY (2g)
#   PYTHON                the python3 that creates the virtualenv (python3)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
REQUIREMENTS="$ROOT/requirements-spark.txt"
VERSION="$(sed -n 's/^pyspark==\([^[:space:]]*\).*/\1/p' "$REQUIREMENTS" | head -n 1)"
[ -n "$VERSION" ] || { echo "spark.sh: no pyspark==X line in $REQUIREMENTS" >&2; exit 1; }
VENV="${SIROCCO_PYSPARK_VENV:-$HOME/.cache/sirocco/pyspark-$VERSION}"
STATE="${SIROCCO_HOME:-$HOME/sirocco}/spark"

HOST=127.0.0.1
MASTER_PORT="${SPARK_MASTER_PORT:-7077}"
REST_PORT="${SPARK_REST_PORT:-6066}"
MASTER_UI_PORT="${SPARK_MASTER_UI_PORT:-18080}"
WORKER_UI_PORT="${SPARK_WORKER_UI_PORT:-18081}"
WORKER_CORES="${SPARK_WORKER_CORES:-4}"
WORKER_MEMORY="${SPARK_WORKER_MEMORY:-2g}"
START_TIMEOUT=120 # seconds

MASTER_URL="spark://$HOST:$MASTER_PORT"
REST_URL="http://$HOST:$REST_PORT"
MASTER_UI="http://$HOST:$MASTER_UI_PORT"
WORKER_UI="http://$HOST:$WORKER_UI_PORT"

die() { echo "spark.sh: $*" >&2; exit 1; }

# shellcheck source=ports.sh
. "$ROOT/scripts/ports.sh"

cmd_ports() {
  if pid_alive "$STATE/master.pid" && pid_alive "$STATE/worker.pid"; then
    return 0 # this home's cluster holds them: start reuses it
  fi
  local hint=""
  pid_alive "$STATE/master.pid" || pid_alive "$STATE/worker.pid" &&
    hint=" (part of this home's cluster is still running: $0 stop)"
  PORTS_HINT="$hint" check_ports "${PORTS_WHO:-spark.sh}" \
    "$MASTER_PORT|Spark master|set SPARK_MASTER_PORT to another port" \
    "$REST_PORT|Spark REST submissions|set SPARK_REST_PORT to another port" \
    "$MASTER_UI_PORT|Spark master web UI|set SPARK_MASTER_UI_PORT to another port" \
    "$WORKER_UI_PORT|Spark worker web UI|set SPARK_WORKER_UI_PORT to another port"
}

# spark_home prints the pyspark package directory, which pip's PySpark
# ships as a Spark distribution (bin/, jars/).
spark_home() {
  local d
  for d in "$VENV"/lib/python3*/site-packages/pyspark; do
    if [ -x "$d/bin/spark-class" ]; then echo "$d"; return 0; fi
  done
  return 1
}

installed() {
  [ -x "$VENV/bin/python" ] && spark_home >/dev/null &&
    [ "$("$VENV/bin/python" -c 'import pyspark; print(pyspark.__version__)' 2>/dev/null)" = "$VERSION" ] &&
    "$VENV/bin/python" -c 'import aiosmtpd' 2>/dev/null
}

cmd_install() {
  if installed; then
    echo "PySpark $VERSION is installed in $VENV"
  else
    local py="${PYTHON:-python3}"
    command -v "$py" >/dev/null || die "$py not found; install Python 3.9 or newer"
    if ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
      if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "installing python3-venv"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
      else
        die "$py cannot create virtualenvs; install python3-venv"
      fi
    fi
    echo "creating $VENV"
    mkdir -p "$(dirname "$VENV")"
    "$py" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    installed || die "PySpark $VERSION did not install into $VENV"
    echo "PySpark $VERSION installed in $VENV"
  fi
  if ! command -v java >/dev/null && [ ! -x "${JAVA_HOME:-/nonexistent}/bin/java" ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
      echo "installing a JDK (openjdk-17-jdk-headless)"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jdk-headless >/dev/null
    else
      echo "spark.sh: warning: no java; Spark needs a JDK 17 or newer" >&2
    fi
  fi
}

# env_exports prints the environment Spark's programs need.
env_exports() {
  local home
  home="$(spark_home)" || die "PySpark is not installed in $VENV; run: $0 install"
  cat <<EOF
export SPARK_HOME='$home'
export SPARK_CONF_DIR='$STATE/conf'
export SPARK_LOCAL_IP=$HOST
export SPARK_PUBLIC_DNS=$HOST
export PYSPARK_PYTHON='$VENV/bin/python'
export PYSPARK_DRIVER_PYTHON='$VENV/bin/python'
export PATH='$home/bin':'$VENV/bin':"\$PATH"
EOF
}

cmd_env() { env_exports; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# master_json prints the master's state, or fails.
master_json() { curl -fsS --max-time 2 "$MASTER_UI/json/" 2>/dev/null; }

# master_ready: the web UI answers and the REST server says it is ready.
master_ready() {
  master_json >/dev/null && curl -fsS --max-time 2 "$REST_URL/v1/submissions/readyz" 2>/dev/null | grep -q '"success" : true'
}

# worker_alive: the master lists our worker as ALIVE.
worker_alive() {
  master_json | "$VENV/bin/python" -c '
import json, sys
state = json.load(sys.stdin)
sys.exit(0 if any(w.get("webuiaddress") == sys.argv[1] and w.get("state") == "ALIVE"
                  for w in state.get("workers", [])) else 1)' "$WORKER_UI"
}

# wait_ready NAME CMD...: polls CMD until it succeeds, for START_TIMEOUT
# seconds, and gives up at once when the daemon NAME has exited.
wait_ready() {
  local name="$1" deadline=$((SECONDS + START_TIMEOUT))
  shift
  until "$@"; do
    pid_alive "$STATE/$name.pid" || return 1
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# start_failed NAME: says why the daemon NAME did not come up (the first
# exception line of its log, such as a BindException), stops what runs, exits.
start_failed() {
  local name="$1" log="$STATE/logs/$1.log" why state=exited
  pid_alive "$STATE/$name.pid" && state="did not become ready within ${START_TIMEOUT}s"
  why="$(grep -m 1 -E 'BindException|Address already in use' "$log" 2>/dev/null ||
    grep -m 1 -E 'Exception:|ERROR' "$log" 2>/dev/null || true)"
  why="$(printf '%s' "$why" | cut -c 1-300)"
  cmd_stop >/dev/null
  die "the $name $state${why:+: $why}; log: $log"
}

# launch NAME CLASS ARGS...: runs a Spark daemon in its own session, so
# stop can end it with its drivers and executors (its process group).
launch() {
  local name="$1"; shift
  setsid "$SPARK_HOME/bin/spark-class" "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/$name.pid"
}

cmd_start() {
  installed || die "PySpark $VERSION is not installed in $VENV; run: $0 install"
  command -v curl >/dev/null || die "curl is needed"
  if pid_alive "$STATE/master.pid" || pid_alive "$STATE/worker.pid"; then
    echo "already running (stop first to restart)"
    cmd_status
    return 0
  fi
  [ -n "${SPARK_SKIP_PORT_CHECK:-}" ] || cmd_ports || exit 1
  mkdir -p "$STATE/logs" "$STATE/work" "$STATE/local" "$STATE/conf"
  if [ ! -f "$STATE/conf/spark-defaults.conf" ]; then
    # Small JVMs by default, so a job fits the worker next to another.
    printf '%s\n' 'spark.driver.memory           512m' 'spark.executor.memory         512m' \
      'spark.ui.showConsoleProgress  false' >"$STATE/conf/spark-defaults.conf"
  fi
  eval "$(env_exports)"
  export SPARK_LOG_DIR="$STATE/logs" SPARK_LOCAL_DIRS="$STATE/local" SPARK_DAEMON_MEMORY=512m

  SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=true -Dspark.master.rest.host=$HOST -Dspark.master.rest.port=$REST_PORT -Dspark.port.maxRetries=0 -Dspark.deploy.defaultCores=1" \
    launch master org.apache.spark.deploy.master.Master \
    --host "$HOST" --port "$MASTER_PORT" --webui-port "$MASTER_UI_PORT"
  wait_ready master master_ready || start_failed master

  SPARK_WORKER_OPTS="-Dspark.port.maxRetries=0" \
    launch worker org.apache.spark.deploy.worker.Worker "$MASTER_URL" \
    --host "$HOST" --webui-port "$WORKER_UI_PORT" \
    --cores "$WORKER_CORES" --memory "$WORKER_MEMORY" --work-dir "$STATE/work"
  wait_ready worker worker_alive || start_failed worker

  cat <<EOF
Spark $VERSION standalone cluster running
  master     $MASTER_URL
  REST       $REST_URL
  master UI  $MASTER_UI
  worker UI  $WORKER_UI
  state      $STATE (logs/, work/, conf/)
Run eval "\$($0 env)" to use spark-submit and pyspark against it.
EOF
}

# stop_one NAME: SIGTERM to the daemon's process group, then SIGKILL.
stop_one() {
  local pidfile="$STATE/$1.pid" pid i
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    echo "stopped the $1 ($pid)"
  fi
  rm -f "$pidfile"
}

cmd_stop() {
  stop_one worker
  stop_one master
}

cmd_status() {
  local name
  for name in master worker; do
    if pid_alive "$STATE/$name.pid"; then
      echo "$name: running (pid $(cat "$STATE/$name.pid"))"
    else
      echo "$name: stopped"
    fi
  done
  if master_json >/dev/null; then
    master_json | "$VENV/bin/python" -c '
import json, sys
s = json.load(sys.stdin)
print("master %s: %s, %d alive worker(s), %d active app(s), %d active driver(s)" % (
    s.get("url"), s.get("status"), s.get("aliveworkers", 0),
    len(s.get("activeapps", [])), len(s.get("activedrivers", []))))'
    echo "REST $REST_URL, master UI $MASTER_UI, worker UI $WORKER_UI"
  fi
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  ports) cmd_ports ;;
  *) echo "usage: $0 install|start|stop|status|env|ports" >&2; exit 2 ;;
esac
