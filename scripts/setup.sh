#!/usr/bin/env bash
# Idempotent set-up on Debian 12 (as root): the sandbox, each language's missing toolchain
# (as its runtimes/<id>/runtime.toml says), then a virtual environment with codealchemy.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  [ "$#" -gt 0 ] || return 0
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" \
    || { apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@"; }
}

base=()
command -v bwrap >/dev/null || base+=(bubblewrap)
command -v setpriv >/dev/null || base+=(util-linux)
command -v python3 >/dev/null || base+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || base+=(python3-venv)
apt_install "${base[@]}"

# Toolchains: runtime.toml lists the commands each language needs and their Debian packages.
mapfile -t pkgs < <(python3 scripts/toolchains.py debian)
apt_install "${pkgs[@]}"
mapfile -t npm_pkgs < <(python3 scripts/toolchains.py npm)
if [ "${#npm_pkgs[@]}" -gt 0 ]; then
  command -v npm >/dev/null || apt_install npm
  npm install -g --silent "${npm_pkgs[@]}"
fi
python3 scripts/toolchains.py prepare

[ -x .venv/bin/python ] || python3 -m venv .venv
if ! .venv/bin/python -c 'import codealchemy.tracer, pytest' 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test,eval]'
  touch .venv/.installed
fi
bash scripts/llm.sh  # the local LLM (llama.cpp, wheel built once and cached) and its small model
