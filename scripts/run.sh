#!/usr/bin/env bash
# Builds Sirocco and runs `sirocco standalone` with the example DAGs. It also
# brings up a local Spark standalone cluster (installing PySpark into a
# virtualenv on first use, a few minutes once) and stores the connections
# the Spark examples use, so the seed story's PySpark job runs at once. When
# OpenSSH's sshd is installed it also starts a throwaway "edge node" for
# Example 3 (scripts/edge.sh: sshd on 127.0.0.1, its own host key, a client
# key made for it, under $SIROCCO_HOME/edge) and stores the ssh connection
# edge_node, host key pinned. The cluster and the edge node keep running
# when Sirocco stops (scripts/spark.sh stop, scripts/edge.sh stop end them).
#
#   scripts/run.sh [standalone flags...]     e.g. --listen 127.0.0.1:9090
#   SIROCCO_NO_SPARK=1 scripts/run.sh        skip Spark (and the edge node); the
#                                            scheduled DAGs that need it are paused
#   SIROCCO_NO_EDGE=1 scripts/run.sh         skip the edge node
#
# Every port is checked before anything is built, installed or started:
# the API's (--listen, 127.0.0.1:8080), Spark's (SPARK_MASTER_PORT 7077,
# SPARK_REST_PORT 6066, SPARK_MASTER_UI_PORT 18080, SPARK_WORKER_UI_PORT 18081)
# and the edge node's (EDGE_SSH_PORT 2222).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=ports.sh
. scripts/ports.sh

# flag_value NAME DEFAULT FLAGS... prints the value of --NAME among the
# standalone flags, DEFAULT when absent.
flag_value() {
  local name="$1" value="$2"
  shift 2
  while [ $# -gt 0 ]; do
    case "$1" in
      --"$name"=*) value="${1#--"$name"=}" ;;
      --"$name") value="${2:-}"; shift ;;
    esac
    shift
  done
  echo "$value"
}

# api_listen prints the --listen value among the standalone flags.
api_listen() { flag_value listen 127.0.0.1:8080 "$@"; }

# spark_dags prints "dag_id schedule connection..." for each DAG file of
# folder $1 whose tasks use the connection spark_local or spark_cluster.
spark_dags() {
  local f id sched conns
  for f in "$1"/*.yaml "$1"/*.yml; do
    [ -f "$f" ] || continue
    conns="$(grep -oE '^[[:space:]-]*conn_id:[[:space:]]*["'\'']?(spark_local|spark_cluster)' "$f" |
      grep -oE 'spark_(local|cluster)' | sort -u | tr '\n' ' ')" || true
    [ -n "$conns" ] || continue
    id="$(sed -n 's/^dag_id:[[:space:]]*//p' "$f" | head -n 1 | tr -d "\"' ")"
    sched="$(sed -n 's/^schedule:[[:space:]]*//p' "$f" | head -n 1 | sed 's/[[:space:]]*#.*//' | tr -d "\"' ")"
    [ -n "$id" ] && echo "$id ${sched:-none} $conns"
  done
}

# skip_spark says that Spark is skipped and which DAGs of folder $1 need
# it, and pauses those of them with a schedule whose Spark connection is
# in neither the database nor the environment: their first run would
# only fail on the missing connection.
skip_spark() {
  local id sched conns c missing need= paused=
  while read -r id sched conns; do
    need="$need $id"
    missing=
    for c in $conns; do
      bin/sirocco connections get "$c" >/dev/null 2>&1 || missing=1
    done
    if [ -n "$missing" ] && [ "$sched" != none ] && bin/sirocco --dags "$1" dags pause "$id" >/dev/null; then
      paused="$paused $id"
    fi
  done < <(spark_dags "$1")
  if [ -z "$need" ]; then
    echo "run.sh: Spark skipped; no DAG in $1 needs spark_local or spark_cluster"
    return
  fi
  echo "run.sh: Spark skipped; these DAGs need it (connections spark_local, spark_cluster) and fail without it:$need"
  if [ -n "$paused" ]; then
    echo "run.sh: paused the scheduled ones, so that no run starts only to fail:$paused (bin/sirocco dags unpause ID once Spark is set up)"
  fi
}

with_spark=
if [ -z "${SIROCCO_NO_SPARK:-}" ]; then
  if command -v java >/dev/null; then
    with_spark=1
  else
    echo "run.sh: no java on PATH; starting without Spark (the Spark examples will fail)" >&2
  fi
fi

with_edge=
if [ -n "$with_spark" ] && [ -z "${SIROCCO_NO_EDGE:-}" ]; then
  if [ -x "${SSHD:-/usr/sbin/sshd}" ] && command -v ssh-keygen >/dev/null; then
    with_edge=1
  else
    echo "run.sh: no OpenSSH sshd (Debian: openssh-server); Example 3 (remote_pyspark_ssh) has no edge node: its runs fail on the missing connection edge_node" >&2
  fi
fi

busy=0
listen="$(api_listen "$@")"
if [ -n "$listen" ]; then
  check_ports run.sh "${listen##*:}|Sirocco API|start with --listen 127.0.0.1:PORT (scripts/run.sh --listen 127.0.0.1:9090)" || busy=1
fi
if [ -n "$with_spark" ]; then
  PORTS_WHO=run.sh scripts/spark.sh ports || busy=1
fi
if [ -n "$with_edge" ]; then
  PORTS_WHO=run.sh scripts/edge.sh ports || busy=1
fi
[ "$busy" -eq 0 ] || exit 1

go build -o bin/sirocco ./cmd/sirocco

# The examples are the DAGs folder of a home that names none, recorded in its
# sirocco.yaml so that every command, from any directory, finds them too.
home="${SIROCCO_HOME:-$HOME/sirocco}"
case " $* " in *" --dags"*) dags_flag=1 ;; *) dags_flag= ;; esac
if [ -z "$dags_flag" ] && [ -z "${SIROCCO_DAGS_FOLDER:-}" ] && ! grep -qs '^dags_folder:' "$home/sirocco.yaml"; then
  mkdir -p "$home"
  printf '# set by scripts/run.sh; change it to use your own DAGs\ndags_folder: %s\n' \
    "$(pwd)/examples/dags" >>"$home/sirocco.yaml"
  echo "run.sh: dags_folder is $(pwd)/examples/dags (recorded in $home/sirocco.yaml)"
fi

if [ -z "$with_spark" ]; then
  bin/sirocco db migrate >/dev/null
  recorded="$(sed -n 's/^dags_folder:[[:space:]]*//p' "$home/sirocco.yaml" 2>/dev/null | head -n 1)"
  skip_spark "$(flag_value dags "${SIROCCO_DAGS_FOLDER:-${recorded:-$home/dags}}" "$@")"
fi

if [ -n "$with_spark" ]; then
  scripts/spark.sh install
  SPARK_SKIP_PORT_CHECK=1 scripts/spark.sh start
  # The cluster outlives Ctrl-C, as a real one would: a cluster-mode driver
  # keeps running and the next start adopts it (stopping the cluster would
  # kill it and fail the task). The next run.sh reuses the cluster.
  trap 'echo "run.sh: the Spark cluster keeps running for the next start; scripts/spark.sh stop stops it" >&2 || true' EXIT
  edge_conn=
  if [ -n "$with_edge" ]; then
    # The seed's "remote server": spark-submit runs there over SSH. Like the
    # cluster, it outlives Ctrl-C (a remote spark-submit keeps running and
    # the next start follows it) and the next run.sh reuses it.
    EDGE_SKIP_PORT_CHECK=1 scripts/edge.sh start
    edge_conn="$(scripts/edge.sh conn)"
    trap 'echo "run.sh: the Spark cluster keeps running for the next start; scripts/spark.sh stop stops it" >&2 || true
      echo "run.sh: the edge node (sshd) keeps running too; scripts/edge.sh stop stops it" >&2 || true' EXIT
  fi
  eval "$(scripts/spark.sh env)"
  # Stored in the database, so that every command of every terminal with the
  # same SIROCCO_HOME sees them (connections list/test, dags test, tasks test).
  bin/sirocco db migrate >/dev/null
  bin/sirocco connections import - --file-format env --overwrite <<CONNS
spark_local=${SIROCCO_CONN_SPARK_LOCAL:-spark://?master=local%5B2%5D}
spark_cluster=${SIROCCO_CONN_SPARK_CLUSTER:-spark://127.0.0.1:${SPARK_MASTER_PORT:-7077}?rest_url=http%3A%2F%2F127.0.0.1%3A${SPARK_REST_PORT:-6066}&master_ui=http%3A%2F%2F127.0.0.1%3A${SPARK_MASTER_UI_PORT:-18080}}
${edge_conn}
CONNS
fi

# Sirocco runs as run.sh's child, so that the EXIT trap above still speaks
# when it ends. A TERM or INT sent to run.sh alone (kill <run.sh pid>) is
# passed on to it, and run.sh waits until its shutdown has finished. Ctrl-C
# signals the whole foreground group, Sirocco too: the INT passed on as
# well changes nothing (Sirocco stops once).
bin/sirocco standalone "$@" &
sirocco_pid=$!
signalled=
pass_on() {
  signalled=1
  kill -s "$1" "$sirocco_pid" 2>/dev/null || true
}
trap 'pass_on TERM' TERM
trap 'pass_on INT' INT
# A signal ends `wait` early while Sirocco shuts down: wait again, until a
# wait returns because Sirocco exited, whose status is run.sh's (127 is a
# wait after that: the status is the one before).
status=0
while :; do
  signalled=
  rc=0
  wait "$sirocco_pid" || rc=$?
  [ "$rc" -eq 127 ] || status=$rc
  [ -n "$signalled" ] || break
done
exit "$status"
