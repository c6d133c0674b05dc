# Sourced by run.sh and spark.sh: checks that the TCP ports a component needs
# are free on 127.0.0.1 before anything is installed or started, and says who
# holds a busy one and how to move it.

# port_holder PORT prints "NAME (pid N)" of the process listening on PORT,
# when ss can tell (it needs the same user or root to see the pid).
port_holder() {
  command -v ss >/dev/null || return 1
  ss -ltnpH "sport = :$1" 2>/dev/null |
    sed -nE 's/.*users:\(\("([^"]+)",pid=([0-9]+).*/\1 (pid \2)/p' | head -n 1
}

# port_busy PORT succeeds when 127.0.0.1:PORT cannot be bound.
port_busy() {
  python3 - "$1" <<'PY' 2>/dev/null && return 1 || return 0
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.close()
PY
}

# check_ports WHO "PORT|what|how to move it"...: prints a line per busy port
# and fails when any is busy.
check_ports() {
  local who="$1" spec port what how holder busy=0
  shift
  for spec in "$@"; do
    IFS='|' read -r port what how <<<"$spec"
    case "$port" in '' | *[!0-9]*)
      echo "$who: $what: '$port' is not a port number" >&2
      busy=1
      continue
      ;;
    esac
    if port_busy "$port"; then
      holder="$(port_holder "$port" || true)"
      echo "$who: port $port ($what) is already in use${holder:+ by $holder}; $how${PORTS_HINT:-}" >&2
      busy=1
    fi
  done
  return "$busy"
}
