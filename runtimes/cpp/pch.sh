#!/bin/sh
# Precompile the C++ prelude for runtime.toml's compile command: the [toolchain] prepare step,
# run once at set-up as the owner of the cache (e.g. root). The sandboxed compiles see the cache
# read-only and use the PCH only under the key they compute themselves (sha256 of the flags F
# and the prelude), so a changed prelude or F just misses until this runs again. Idempotent: an
# entry that gcc accepts is kept (checked with -H, ~0.3 s); one it rejects (g++ upgraded) is
# rebuilt. Only the 4 most recent entries are kept (other checkouts may use older preludes).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache="${1:-/var/cache/codealchemy/cpp-pch}"
prelude="$here/../../instrumenters/cpp/prelude/_codealchemy.hpp"
F=$(sed -n "s/^F='\(.*\)'\$/\1/p" "$here/runtime.toml")
[ -n "$F" ] || { echo "pch.sh: no F='...' line in $here/runtime.toml" >&2; exit 1; }
key=$({ echo "$F"; cat "$prelude"; } | sha256sum | cut -c1-32)
entry="$cache/$key"

usable() {   # gcc takes the PCH ("! ...gch" under -H) for a program that includes the prelude
    t=$(mktemp -d)
    cp "$entry/_codealchemy.hpp" "$t/" && ln -s "$entry/_codealchemy.hpp.gch" "$t/"
    printf '#include "_codealchemy.hpp"\nint main() { return 0; }\n' > "$t/main.cpp"
    ok=1
    (cd "$t" && g++ $F -H -fsyntax-only main.cpp 2>&1) | grep -q '^! _codealchemy.hpp.gch' && ok=0
    rm -rf "$t"
    return $ok
}

mkdir -p "$cache"
if [ -f "$entry/_codealchemy.hpp.gch" ] && usable; then
    touch "$entry"
else
    tmp=$(mktemp -d "$cache/.build.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    cp "$prelude" "$tmp/_codealchemy.hpp"
    # the relative name, as the compile in /work names it
    (cd "$tmp" && g++ $F -x c++-header -o _codealchemy.hpp.gch _codealchemy.hpp)
    chmod -R a+rX "$tmp"
    rm -rf "$entry"
    mv "$tmp" "$entry"
    trap - EXIT
    usable || { echo "pch.sh: gcc does not take the PCH it just built ($entry)" >&2; exit 1; }
fi
chmod a+rX "$cache"
# keep the 4 most recent entries
ls -1t "$cache" | tail -n +5 | while read -r old; do rm -rf "${cache:?}/$old"; done
echo "C++ prelude PCH: $entry"
