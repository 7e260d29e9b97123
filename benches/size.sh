#!/usr/bin/env bash
# Sizes (issue 19, "hello executable ≤ 0.9 MB dynamic"): the stubs every executable starts as,
# hello bundled with each (examples/hello/main.lua; the static stub is the default for it),
# against LuaJIT alone: the plain `luajit` that LuaJIT's make builds from the very source the
# stub vendors, and Debian's luajit (which links libluajit statically; its shared library is
# listed for reference). Bytes on disk, and the loaded segments' sum (`size`: text + data).
#
#   benches/size.sh
#   BUNDLE=target/release/bundle benches/size.sh   # no build
set -euo pipefail

. "$(dirname "$0")/common.sh"
use_bundle
"$bundle" "$here/examples/hello/main.lua" -o "$work/hello-dynamic" --dynamic -q
"$bundle" "$here/examples/hello/main.lua" -o "$work/hello-static" -q
same=$(same_luajit)

row() { # label file
  [ -f "$2" ] || { printf '| %s | (missing) | | |\n' "$1"; return; }
  local bytes loaded
  bytes=$(stat -L -c %s "$2")
  loaded=$(size "$2" | awk 'NR == 2 { print $1 + $2 }')
  printf '| %s | %s | %.2f MB | %s |\n' "$1" "$bytes" "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')" "$loaded"
}
echo "| file | bytes | MB | text + data |"
echo "|---|---:|---:|---:|"
row "stub, dynamic" "$(ls "$target"/stub-build/*/stub/bundle-stub | head -n 1)"
row "stub, static" "$(ls "$target"/stub-build-static/*/stub/bundle-stub 2>/dev/null | head -n 1)"
row "hello, dynamic (--dynamic)" "$work/hello-dynamic"
row "hello, static (default)" "$work/hello-static"
row "luajit, same version (vendored source, make)" "$same"
row "luajit, Debian (/usr/bin/luajit)" "$(readlink -f /usr/bin/luajit)"
row "libluajit-5.1.so.2, Debian" "$(ls /usr/lib/*/libluajit-5.1.so.2 2>/dev/null | head -n 1)"
