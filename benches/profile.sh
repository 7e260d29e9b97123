#!/usr/bin/env bash
# Where a bundled program's start-up goes, by function: builds the stub with symbols and debug
# info (the shipped one is stripped), bundles MAIN.lua with it through --stub, and runs it under
# callgrind. Prints the instruction total and the functions by inclusive and exclusive cost.
#
#   benches/profile.sh MAIN.lua [ARGS...]            STATIC=0 benches/profile.sh ...
#
# STATIC=1 (the default) profiles the static stub, STATIC=0 the dynamic one. The symbolised stub
# is built once into target/stub-sym{,-static}/ (a nested cargo build, as build.rs does it).
set -euo pipefail

. "$(dirname "$0")/common.sh"
[ $# -ge 1 ] || { sed -n 2,9p "$0" >&2; exit 2; }
main=$1
shift
require valgrind
static=${STATIC:-1}
target=$(rustc -vV | sed -n 's/^host: //p')
flags="-Crelro-level=partial"
dir=$here/target/stub-sym
if [ "$static" = 1 ]; then
  flags="$flags"$'\x1f'"-Ctarget-feature=+crt-static"
  dir=$here/target/stub-sym-static
fi
multiarch=$(gcc -print-multiarch 2>/dev/null || true)
(cd "$here" && PREFIX=/usr MULTILIB="lib/$multiarch" CARGO_ENCODED_RUSTFLAGS="$flags" \
  cargo build -q -p bundle-runtime --bin bundle-stub --profile stub --target "$target" \
  --target-dir "$dir" --config profile.stub.strip=false --config profile.stub.debug=1)
stub=$dir/$target/stub/bundle-stub
cargo build -q --release --manifest-path "$here/Cargo.toml"

"$here/target/release/bundle" -q "$main" -o "$work/app" --stub "$stub"
valgrind --tool=callgrind --callgrind-out-file="$work/cg" "$work/app" "$@" >/dev/null 2>"$work/log" || true
grep Collected "$work/log" | sed 's/^==[0-9]*== //'
short() { sed -e "s|$dir/[^ ]*/out/luajit-build/src/||" -e "s|$HOME/.cargo/registry/src/[^/]*/||" -e "s|$here/||" -e 's| \[[^]]*\]$||'; }
echo "--- inclusive (top 30)"
callgrind_annotate --inclusive=yes "$work/cg" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | grep -v "'[0-9]" | sed -n 2,31p | short
echo "--- exclusive (top 30)"
callgrind_annotate "$work/cg" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | sed -n 2,31p | short
