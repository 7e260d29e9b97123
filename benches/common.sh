# Sourced by the bench scripts (`. "$(dirname "$0")/common.sh"`): what each of them does first.
#   here         the repository;
#   work         a scratch directory, removed on exit;
#   require T... exits, naming the first of the tools T that is not installed;
#   use_bundle   sets `bundle` ($BUNDLE, else a release build of this tree) and `target`, the
#                target directory it was built in;
#   same_luajit  prints the plain `luajit` that LuaJIT's make built from the vendored source
#                beside the stub (the same VM), or nothing.

here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$0: $tool is required" >&2; exit 1; }
  done
}

use_bundle() {
  if [ -n "${BUNDLE:-}" ]; then
    bundle=$(realpath "$BUNDLE")
  else
    cargo build --release --quiet --manifest-path "$here/Cargo.toml"
    bundle=$here/target/release/bundle
  fi
  target=$(dirname "$(dirname "$bundle")")
}

same_luajit() {
  ls "$target"/stub-build/*/stub/build/mlua-sys-*/out/luajit-build/src/luajit 2>/dev/null | head -n 1
}
