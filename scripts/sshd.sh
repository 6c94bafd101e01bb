# Sourced by scripts that need an SFTP server (make demo DEMO=sftp):
# `start_sshd DIR` starts Debian's OpenSSH server (scripts/setup-tools.sh
# installs it) on a free 127.0.0.1 port, with the same configuration as the
# Rust tests' fixture (testkit/src/sshd.rs): key authentication only, a
# throwaway ed25519 host key and user key from ssh-keygen, its own
# internal-sftp, running as the current user. DIR (empty or missing) gets
# the keys, the config, sshd.log and the served directory DIR/files.
#
# Sets sshd_pid, sftp_port, sftp_user, sftp_dir (absolute), sftp_key (the
# user's private key file) and sftp_known_hosts (the host key as a
# known_hosts line, `[127.0.0.1]:PORT ssh-ed25519 AAAA...`). The caller
# stops it with `stop_sshd` in its own exit trap.
#
# Run as root (a container), sshd starts with CAP_DAC_OVERRIDE and
# CAP_DAC_READ_SEARCH dropped from its bounding set, so file modes bind it
# as they would an ordinary account (as the fixture does).
SSHD_BIN=/usr/sbin/sshd

start_sshd() {
  local dir=$1 root py config i
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  py="$root/.tools/venv/bin/python"
  [ -x "$SSHD_BIN" ] || { echo "$SSHD_BIN is missing: bash scripts/setup-tools.sh (installs openssh-server)" >&2; return 69; }
  mkdir -p "$dir/files"
  dir=$(cd "$dir" && pwd)
  ssh-keygen -q -t ed25519 -N "" -C host_ed25519 -f "$dir/host_ed25519" </dev/null || return 1
  ssh-keygen -q -t ed25519 -N "" -C client_ed25519 -f "$dir/client_ed25519" </dev/null || return 1
  cp "$dir/client_ed25519.pub" "$dir/authorized_keys"
  # The privilege separation directory sshd checks for; systemd makes it on
  # a booted host, a container may not have it.
  mkdir -p /run/sshd 2>/dev/null || true
  sftp_port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  sftp_user=$(id -un)
  sftp_dir="$dir/files"
  sftp_key="$dir/client_ed25519"
  sftp_known_hosts="[127.0.0.1]:$sftp_port $(cut -d' ' -f1,2 "$dir/host_ed25519.pub")"
  config="$dir/sshd_config"
  cat >"$config" <<CFG
Port $sftp_port
ListenAddress 127.0.0.1
HostKey $dir/host_ed25519
PidFile none
AuthorizedKeysFile $dir/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
AllowUsers $sftp_user
Subsystem sftp internal-sftp
MaxStartups 100
MaxSessions 100
LogLevel VERBOSE
CFG
  if [ "$(id -u)" = 0 ]; then
    # setpriv execs sshd: the pid is sshd's.
    setpriv --bounding-set -dac_override,-dac_read_search "$SSHD_BIN" -D -e -f "$config" </dev/null >"$dir/sshd.log" 2>&1 &
  else
    "$SSHD_BIN" -D -e -f "$config" </dev/null >"$dir/sshd.log" 2>&1 &
  fi
  sshd_pid=$!
  for i in $(seq 200); do
    if ! kill -0 "$sshd_pid" 2>/dev/null; then
      echo "sshd exited early:" >&2; cat "$dir/sshd.log" >&2; sshd_pid=""; return 1
    fi
    "$py" -c "import socket; socket.create_connection(('127.0.0.1', $sftp_port), 0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "sshd did not listen on 127.0.0.1:$sftp_port (log: $dir/sshd.log)" >&2
  return 1
}

# Stops the sshd start_sshd started: first the per-connection processes it
# forked (a run stopped half-way may leave a session open), then sshd.
stop_sshd() {
  [ -n "${sshd_pid:-}" ] || return 0
  local child
  for child in $(ps -o pid= --ppid "$sshd_pid" 2>/dev/null); do kill "$child" 2>/dev/null || true; done
  kill "$sshd_pid" 2>/dev/null || true
  wait "$sshd_pid" 2>/dev/null || true
  sshd_pid=""
}
