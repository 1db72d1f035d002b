#!/bin/sh
# Warm the shared, read-only Go build cache named by GOCACHE in runtimes/go/runtime.toml.
# Run once at set-up (as the owner of the directory, e.g. root): it compiles the standard
# library with the same build settings as the sandboxed builds (CGO_ENABLED=0). Sandboxed
# builds then read compiled packages from it; they cannot write to it (the sandbox's root is
# read-only), and Go then just does not store new entries. Idempotent: a warm cache takes
# a few seconds to check.
set -eu
cache="${1:-/var/cache/codealchemy/go-build}"
mkdir -p "$cache"
GOCACHE="$cache" CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod GO111MODULE=auto GOTELEMETRY=off \
  go build std
chmod -R a+rX "$cache"
touch "$cache/.warm"
