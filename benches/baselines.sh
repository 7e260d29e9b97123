#!/usr/bin/env bash
# Start-up against fair baselines (issue 19, point 1), side by side in one hyperfine run per
# workload, medians and ratios:
#   - the process floor (/bin/true);
#   - the same-version luajit: the plain CLI LuaJIT's make builds from the very source the stub
#     vendors (beside the stub build, target/stub-build/.../luajit-build/src/luajit);
#   - Debian's luajit;
#   - the one-chunk preload amalgam: every module a package.preload function inside one chunk
#     with the main script (the amalg/srlua technique), compiled with the same-version
#     `luajit -b` (debug info kept, as bundle keeps it), run by the same-version luajit;
#   - bundled.
# Workloads: benches/gen_apps.py (hello, big = 300 modules, big/main10).
#
#   benches/baselines.sh          RUNS=20 benches/baselines.sh
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-50}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for tool in hyperfine luajit python3; do
  command -v "$tool" >/dev/null || { echo "benches/baselines.sh: $tool is required" >&2; exit 1; }
done

cargo build --release --quiet --manifest-path "$here/Cargo.toml"
bundle=$here/target/release/bundle
same=$(ls "$here"/target/stub-build/*/stub/build/mlua-sys-*/out/luajit-build/src/luajit 2>/dev/null | head -n 1)
[ -x "$same" ] || { echo "benches/baselines.sh: no same-version luajit (build bundle from source first)" >&2; exit 1; }
# Its own jit.* modules (for -b), not Debian's, whose vmdef is another VM's.
same_path="$(dirname "$same")/?.lua;;"
python3 "$here/benches/gen_apps.py" "$work" >/dev/null

# The amalgam: package.preload functions for every module under DIR, then the main script.
amalgamate() { # dir main out
  python3 - "$1" "$2" "$3" <<'EOF'
import os, sys
root, main, out = sys.argv[1:4]
parts = []
for dp, _, fs in sorted(os.walk(root)):
    for f in sorted(fs):
        if not f.endswith(".lua") or dp == root:
            continue
        rel = os.path.relpath(os.path.join(dp, f), root)[:-4]
        name = rel.replace(os.sep, ".")
        if name.endswith(".init"):
            name = name[:-5]
        src = open(os.path.join(dp, f), encoding="latin-1").read()
        parts.append('package.preload["%s"] = function(...)\n%s\nend\n' % (name, src))
parts.append("do\n%s\nend\n" % open(os.path.join(root, main), encoding="latin-1").read())
open(out, "w", encoding="latin-1").write("".join(parts))
EOF
}

median() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(" ".join(str(x["median"]) for x in r))' "$1"; }
row() { # name dir main bundled-exe
  local name=$1 dir=$2 main=$3 exe=$4
  amalgamate "$dir" "$main" "$work/amalg.lua"
  LUA_PATH="$same_path" "$same" -b -g "$work/amalg.lua" "$work/amalg.bc"
  (cd "$dir" && LUA_PATH='./?.lua;./?/init.lua;;' hyperfine -N --warmup 20 --runs "$runs" \
    --export-json "$work/$$.json" \
    "/bin/true" "$same $main" "luajit $main" "$same $work/amalg.bc" "$exe" >/dev/null 2>&1)
  python3 - "$name" $(median "$work/$$.json") <<'EOF'
import sys
name, floor, same, debian, amalg, bundled = sys.argv[1], *map(float, sys.argv[2:7])
ms = lambda s: f"{s*1e3:.2f} ms"
print(f"| {name} | {ms(floor)} | {ms(same)} | {ms(debian)} | {ms(amalg)} | {ms(bundled)} "
      f"| {bundled/same:.2f} | {bundled/debian:.2f} | {bundled/amalg:.2f} |")
EOF
}

(cd "$work/hello" && "$bundle" -q main.lua -o hello)
(cd "$work/big" && "$bundle" -q main.lua -o big)
(cd "$work/big" && "$bundle" -q main10.lua -o big10)

echo "| workload | /bin/true | luajit (same version) | luajit (Debian) | preload amalgam | bundled | vs same | vs Debian | vs amalgam |"
echo "|---|---|---|---|---|---|---|---|---|"
row hello "$work/hello" main.lua "$work/hello/hello"
row "big (300 modules)" "$work/big" main.lua "$work/big/big"
row "big/main10" "$work/big" main10.lua "$work/big/big10"
