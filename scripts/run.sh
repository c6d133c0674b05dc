#!/usr/bin/env bash
# Builds Sirocco and runs `sirocco standalone` with the example DAGs. It also
# brings up a local Spark standalone cluster (installing PySpark into a
# virtualenv on first use, a few minutes once) and defines the connections
# the Spark examples use, so the seed story's PySpark job runs at once.
#
#   scripts/run.sh [standalone flags...]     e.g. --listen 127.0.0.1:9090
#   SIROCCO_NO_SPARK=1 scripts/run.sh        skip Spark
set -euo pipefail
cd "$(dirname "$0")/.."

go build -o bin/sirocco ./cmd/sirocco

if [ -z "${SIROCCO_NO_SPARK:-}" ]; then
  if command -v java >/dev/null; then
    scripts/spark.sh install
    scripts/spark.sh start
    trap 'scripts/spark.sh stop' EXIT
    eval "$(scripts/spark.sh env)"
    : "${SIROCCO_CONN_SPARK_LOCAL:=spark://?master=local%5B2%5D}"
    : "${SIROCCO_CONN_SPARK_CLUSTER:=spark://127.0.0.1:${SPARK_MASTER_PORT:-7077}?rest_url=http%3A%2F%2F127.0.0.1%3A${SPARK_REST_PORT:-6066}&master_ui=http%3A%2F%2F127.0.0.1%3A${SPARK_MASTER_UI_PORT:-18080}}"
    export SIROCCO_CONN_SPARK_LOCAL SIROCCO_CONN_SPARK_CLUSTER
  else
    echo "run.sh: no java on PATH; starting without Spark (the Spark examples will fail)" >&2
  fi
fi

bin/sirocco standalone --dags examples/dags "$@"
