#!/usr/bin/env bash
# Idempotent set-up of what the docker backend needs on Debian 12 (as root): Debian's docker.io
# (the engine and CLI) and debootstrap (for `trace runtimes bootstrap`), dockerd running, and the
# docker SDK in the virtual environment (.venv, when there is one).
#
#   bash scripts/docker.sh            # install + start
#   bash scripts/docker.sh --images   # ... then bootstrap the base image and build every image
#   bash scripts/docker.sh --images python c java go rust   # ... only those
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  [ "$#" -gt 0 ] || return 0
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" \
    || { apt-get -o DPkg::Lock::Timeout=600 update -qq \
         && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@"; }
}

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v tar >/dev/null || need+=(tar)
apt_install "${need[@]}"

# dockerd: running already (a systemd unit, or started by hand) or started here, in the background
if ! docker info >/dev/null 2>&1; then
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    systemctl start docker
  else
    command -v containerd >/dev/null && ! pgrep -x containerd >/dev/null \
      && { nohup containerd >/var/log/containerd.log 2>&1 & }
    nohup dockerd >/var/log/dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start: see /var/log/dockerd.log" >&2; exit 1; }
fi

py=python3
[ -x .venv/bin/python ] && py=.venv/bin/python
"$py" -c 'import docker' 2>/dev/null || "$py" -m pip install -q 'docker>=7'

if [ "${1:-}" = "--images" ]; then
  shift
  trace=trace
  [ -x .venv/bin/trace ] && trace=.venv/bin/trace
  "$trace" runtimes bootstrap
  "$trace" runtimes build "$@"
fi
