#!/usr/bin/env bash
# Idempotent set-up of what the docker backend needs on Debian 12 (as root): Debian's docker.io
# (the engine and CLI) and debootstrap (for `trace runtimes bootstrap`), dockerd running, and the
# docker SDK in the virtual environment (.venv, when there is one).
#
#   bash scripts/docker.sh                 # install + start
#   bash scripts/docker.sh images [ID...]  # ... then bootstrap debian:bookworm-slim and build the
#                                          #     images (default: all 13 that need no registry)
#   bash scripts/docker.sh test [ID...]    # ... then run the docker tests on those images (marker
#                                          #     `docker`: tests/docker, tests/sandbox): the hostile
#                                          #     programs, fixtures and conformance programs on the
#                                          #     docker backend (default: CI's subset, python c java
#                                          #     go rust; `test all` for all 13), after `fresh`
#   bash scripts/docker.sh fresh [CMD]     # ... then, in a clean debian:bookworm-slim container,
#                                          #     this checkout's files (tracked and untracked, not
#                                          #     ignored) and `bash scripts/setup.sh && CMD`
#                                          #     (default: the README's first command): a set-up
#                                          #     step that only worked because this machine had
#                                          #     the tool already fails here
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

mode="${1:-}"
[ "$#" -gt 0 ] && shift
case "$mode" in
  "") exit 0 ;;
  images|test|fresh) ;;
  *) echo "usage: $0 [images|test|fresh] [ID...|CMD]" >&2; exit 2 ;;
esac
trace=trace
[ -x .venv/bin/trace ] && trace=.venv/bin/trace
"$trace" runtimes bootstrap

# A fresh machine, as far as a container is one: nothing of this machine's but its CA bundle
# (where a TLS-intercepting proxy stands between it and the registries, a fresh machine of
# this kind trusts it too), what bubblewrap needs inside a container (CAP_SYS_ADMIN and
# CAP_NET_ADMIN, no seccomp filter of docker's: its mount and namespace calls), and the wheel
# cache of scripts/llm.sh, whose llama-cpp-python build (minutes) the host's set-up has just
# done with the same command: CODEALCHEMY_FRESH_WHEELS=0 builds it again inside.
fresh() {
  local cmd="${1:-.venv/bin/trace run examples/gcd.py}" bundle=/etc/ssl/certs/ca-certificates.crt mounts=()
  local wheels=/var/cache/codealchemy/wheels
  [ -f "$bundle" ] && mounts=(-v "$bundle:/host-ca.crt:ro" -e PIP_CERT=/host-ca.crt
                             -e npm_config_cafile=/host-ca.crt -e SSL_CERT_FILE=/host-ca.crt)
  [ -d "$wheels" ] && [ "${CODEALCHEMY_FRESH_WHEELS:-1}" = 1 ] && mounts+=(-v "$wheels:$wheels")
  git ls-files -z --cached --others --exclude-standard | tar -c --null -T - \
    | docker run --rm -i --cap-add SYS_ADMIN --cap-add NET_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined "${mounts[@]}" debian:bookworm-slim \
        bash -c "mkdir /src && cd /src && tar -x && bash scripts/setup.sh && $cmd"
}
if [ "$mode" = fresh ]; then
  fresh "$@"
  exit
fi
if [ "$mode" = test ]; then
  echo "scripts/setup.sh in a clean container" >&2
  fresh
fi
ids=("$@")
if [ "$mode" = test ] && [ "${#ids[@]}" -eq 0 ]; then ids=(python c java go rust); fi
langs=$(IFS=,; echo "${ids[*]}")
[ "${ids[0]:-}" = all ] && ids=()
"$trace" runtimes build --quiet "${ids[@]}"
if [ "$mode" = test ]; then
  CODEALCHEMY_DOCKER_LANGS="$langs" "$py" -m pytest -q -m docker tests/docker tests/sandbox
fi
