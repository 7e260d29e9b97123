#!/usr/bin/env bash
# Payload of the 300-module app (benches/gen_apps.py, big/) three ways (issue 19, last point):
# one zstd frame per module (what bundle stores), per-module frames with a zstd dictionary
# trained on the modules and stored once, and all modules as one zstd stream; with the set-up
# each costs a run and the time to decode a module (benches/payload_dict.rs). The modules are
# taken as bundle stores them: `bundle extract` of the bundled app (LuaJIT bytecode with debug
# info; STRIP=1 for `--strip`). The generated modules come from one template and share more than
# real ones do, so the same is measured on a real program when it is installed: LuaRocks' own
# modules (/usr/share/lua/5.1/luarocks), compiled with `luajit -b -g`, as bundle stores them.
#
#   benches/payload_dict.sh
#   BUNDLE=target/release/bundle STRIP=1 benches/payload_dict.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"
use_bundle
python3 "$here/benches/gen_apps.py" "$work" >/dev/null
flags=()
[ -n "${STRIP:-}" ] && flags+=(--strip)
(cd "$work/big" && "$bundle" main.lua -o "$work/big.exe" -q ${flags[@]+"${flags[@]}"})
"$bundle" extract "$work/big.exe" -d "$work/modules" >/dev/null
"$bundle" inspect "$work/big.exe" --json | python3 -c '
import json, sys
p = json.load(sys.stdin)["payload"]
print("payload as bundle writes it: %d bytes (entries: %d raw, %d stored)"
      % (p["size"], p["totals"]["raw"], p["totals"]["stored"]))'
cargo bench --quiet --manifest-path "$here/Cargo.toml" --bench payload_dict -- "$work/modules"
real=/usr/share/lua/5.1/luarocks
if [ -d "$real" ] && command -v luajit >/dev/null; then
  echo
  echo "LuaRocks' modules ($real):"
  (cd "$real" && find . -name '*.lua' | while read -r f; do
    mkdir -p "$work/luarocks/$(dirname "$f")"
    luajit -b -g "$f" "$work/luarocks/${f%.lua}.luac"
  done)
  cargo bench --quiet --manifest-path "$here/Cargo.toml" --bench payload_dict -- "$work/luarocks"
fi
