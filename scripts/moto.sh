# Sourced by scripts that need moto: `start_moto LOG` starts the pinned
# moto server (tools/moto-server) on a free 127.0.0.1 port, waits until it
# accepts connections, and sets `moto_pid` and `endpoint`. The caller stops
# it (kill "$moto_pid") in its own exit trap.
start_moto() {
  local root py port
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  py="$root/.tools/venv/bin/python"
  [ -x "$root/.tools/venv/bin/moto_server" ] || { echo "moto not installed: bash scripts/setup-tools.sh" >&2; return 69; }
  port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$root/tools/moto-server" -H 127.0.0.1 -p "$port" >"$1" 2>&1 &
  moto_pid=$!
  endpoint="http://127.0.0.1:$port"
  for _ in $(seq 100); do
    "$py" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "moto did not start on $endpoint (log: $1)" >&2
  return 1
}
