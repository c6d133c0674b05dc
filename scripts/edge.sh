#!/usr/bin/env bash
# A throwaway "edge node" for the seed story's Example 3 (spark-submit on a
# remote server over SSH): an OpenSSH sshd on 127.0.0.1 with its own host
# key, letting in only this user with a client key made here, whose sessions
# see Spark (SPARK_HOME, PATH, PySpark's python, the local cluster's conf) as
# a real edge node's environment would. Everything lives in
# $SIROCCO_HOME/edge; the keys are made once and kept.
#
#   scripts/edge.sh ports    check that its port is free (start does too)
#   scripts/edge.sh start    make the keys (once) and start sshd; a running one is reused
#   scripts/edge.sh stop     stop sshd (remote jobs it started keep running)
#   scripts/edge.sh status   say whether it runs
#   scripts/edge.sh conn     print the edge_node connection, as an env-format line
#
# Settings (environment):
#   EDGE_SSH_PORT   its port (default 2222)
#   SIROCCO_HOME    state directory (default ~/sirocco)
#   SSHD            the OpenSSH daemon (default /usr/sbin/sshd)
#   and what scripts/spark.sh env reads (SIROCCO_PYSPARK_VENV).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${SIROCCO_HOME:-$HOME/sirocco}/edge"
PORT="${EDGE_SSH_PORT:-2222}"
SSHD="${SSHD:-/usr/sbin/sshd}"
HOST=127.0.0.1
START_TIMEOUT=20 # seconds

die() { echo "edge.sh: $*" >&2; exit 1; }

# shellcheck source=ports.sh
. "$ROOT/scripts/ports.sh"

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
running() { pid_alive "$STATE/sshd.pid"; }

cmd_ports() {
  running && return 0 # this home's edge node holds it: start reuses it
  check_ports "${PORTS_WHO:-edge.sh}" "$PORT|edge node sshd|set EDGE_SSH_PORT to another port"
}

# keys makes the host key and the client key, once.
keys() {
  mkdir -p "$STATE"
  chmod 700 "$STATE"
  [ -f "$STATE/ssh_host_ed25519_key" ] ||
    ssh-keygen -q -t ed25519 -N '' -C "sirocco edge node host key" -f "$STATE/ssh_host_ed25519_key"
  [ -f "$STATE/id_ed25519" ] ||
    ssh-keygen -q -t ed25519 -N '' -C "sirocco edge node client" -f "$STATE/id_ed25519"
  cp "$STATE/id_ed25519.pub" "$STATE/authorized_keys"
  # The connection trusts exactly this host key on this port.
  echo "[$HOST]:$PORT $(cut -d' ' -f1,2 "$STATE/ssh_host_ed25519_key.pub")" >"$STATE/known_hosts"
}

# config writes sshd_config: loopback only, keys only, this user only, and
# the Spark environment an edge node's sessions have.
config() {
  eval "$("$ROOT/scripts/spark.sh" env)"
  cat >"$STATE/sshd_config" <<EOF
Port $PORT
ListenAddress $HOST
HostKey $STATE/ssh_host_ed25519_key
AuthorizedKeysFile $STATE/authorized_keys
AllowUsers $(id -un)
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding no
X11Forwarding no
PidFile $STATE/sshd.pid
# PYENV_REHASH_TIMEOUT: a login shell running `pyenv init` (root's .bashrc on
# some machines) otherwise waits up to 60 s on a stale pyenv rehash lock.
SetEnv SPARK_HOME=$SPARK_HOME SPARK_CONF_DIR=$SPARK_CONF_DIR SPARK_LOCAL_IP=$SPARK_LOCAL_IP PYSPARK_PYTHON=$PYSPARK_PYTHON PYSPARK_DRIVER_PYTHON=$PYSPARK_DRIVER_PYTHON PATH=$SPARK_HOME/bin:$(dirname "$PYSPARK_PYTHON"):/usr/local/bin:/usr/bin:/bin PYENV_REHASH_TIMEOUT=1
EOF
  "$SSHD" -t -f "$STATE/sshd_config" || die "sshd rejects $STATE/sshd_config"
}

cmd_start() {
  [ -x "$SSHD" ] || die "$SSHD not found; install OpenSSH's server (Debian: openssh-server)"
  command -v ssh-keygen >/dev/null || die "ssh-keygen not found; install OpenSSH's client"
  if running; then
    echo "edge node: sshd is running on $HOST:$PORT (pid $(cat "$STATE/sshd.pid"))"
    return 0
  fi
  [ -n "${EDGE_SKIP_PORT_CHECK:-}" ] || cmd_ports || exit 1
  keys
  config
  # sshd as root needs its privilege separation directory.
  if [ "$(id -u)" -eq 0 ]; then mkdir -p /run/sshd; fi
  rm -f "$STATE/sshd.pid"
  "$SSHD" -f "$STATE/sshd_config" -E "$STATE/sshd.log"
  local waited=0
  until running && port_busy "$PORT"; do
    if [ "$waited" -ge $((START_TIMEOUT * 10)) ]; then
      tail -n 5 "$STATE/sshd.log" >&2 || true
      die "sshd did not listen on $HOST:$PORT within ${START_TIMEOUT}s (log: $STATE/sshd.log)"
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  echo "edge node: sshd on $HOST:$PORT (pid $(cat "$STATE/sshd.pid")), keys and log in $STATE"
}

cmd_stop() {
  if running; then
    kill "$(cat "$STATE/sshd.pid")"
    echo "edge node: stopped sshd on $HOST:$PORT"
  fi
  rm -f "$STATE/sshd.pid"
}

cmd_status() {
  if running; then
    echo "edge node: sshd on $HOST:$PORT (pid $(cat "$STATE/sshd.pid"))"
  else
    echo "edge node: not running"
    return 1
  fi
}

# urlq percent-encodes a query value.
urlq() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

cmd_conn() {
  [ -f "$STATE/known_hosts" ] || die "no edge node in $STATE yet; run: $0 start"
  echo "edge_node=ssh://$(id -un)@$HOST:$PORT?key_file=$(urlq "$STATE/id_ed25519")&known_hosts=$(urlq "$STATE/known_hosts")"
}

case "${1:-}" in
  ports) cmd_ports ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  conn) cmd_conn ;;
  *) echo "usage: $0 ports|start|stop|status|conn" >&2; exit 2 ;;
esac
