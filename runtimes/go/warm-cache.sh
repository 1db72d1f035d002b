#!/bin/sh
# Warm the shared, read-only Go build cache named by GOCACHE in runtimes/go/runtime.toml.
# Run once at set-up (as the owner of the directory, e.g. root): it compiles the standard
# library with the same build settings as the sandboxed builds (CGO_ENABLED=0). Sandboxed
# builds then read compiled packages from it; they cannot write to it (the sandbox's root is
# read-only), and Go then just does not store new entries. Idempotent: a warm cache takes
# a few seconds to check. Where GOPATH holds the modules of libraries.txt (the docker image,
# $GOPATH/libraries.txt), their packages are compiled too (those that build without cgo).
set -eu
cache="${1:-/var/cache/codealchemy/go-build}"
mkdir -p "$cache"
export GOCACHE="$cache" CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod GO111MODULE=auto GOTELEMETRY=off
go build std
if [ -n "${GOPATH:-}" ] && [ -f "$GOPATH/libraries.txt" ]; then
  patterns=$(awk '{ sub(/#.*/, "") } NF { sub(/@.*/, "", $1); print $1 "/..." }' "$GOPATH/libraries.txt")
  # shellcheck disable=SC2086
  packages=$(cd / && go list -e -f '{{if and (not .Error) (not .DepsErrors) (not .Standard)}}{{.ImportPath}}{{end}}' $patterns)
  # shellcheck disable=SC2086
  (cd / && go build $packages)
  echo "warmed $(echo "$packages" | wc -w) library packages"
fi
chmod -R a+rX "$cache"
touch "$cache/.warm"
