#!/usr/bin/env bash
# Start-up against fair baselines (issue 19), side by side in one interleaved run per workload
# (benches/interleave.py: every round runs every command once, in a rotating order), medians
# and ratios:
#   - the process floor (/bin/true);
#   - the same-version luajit: the plain CLI LuaJIT's make builds from the very source the stub
#     vendors (beside the stub build, target/stub-build/.../luajit-build/src/luajit);
#   - Debian's luajit;
#   - the one-chunk preload amalgam: every module a package.preload function inside one chunk
#     with the main script (the amalg/srlua technique), compiled with the same-version
#     `luajit -b` (debug info kept, as bundle keeps it), run by the same-version luajit;
#   - bundled: the default build (static for these programs, which load no C code) and the
#     same with --dynamic.
# Workloads: benches/gen_apps.py (hello, app = 20 modules, big = 300 modules, big/main10).
#
#   benches/baselines.sh          RUNS=20 benches/baselines.sh
set -euo pipefail

. "$(dirname "$0")/common.sh"
runs=${RUNS:-50}
require luajit python3

use_bundle
same=$(same_luajit)
[ -x "$same" ] || { echo "benches/baselines.sh: no same-version luajit (build bundle from source first)" >&2; exit 1; }
# Its own jit.* modules (for -b), not Debian's, whose vmdef is another VM's.
same_path="$(dirname "$same")/?.lua;;"
python3 "$here/benches/gen_apps.py" "$work" >/dev/null

# The amalgam: package.preload functions for the modules under DIR that running MAIN loads
# (as amalg.lua's cache of a run records them), then the main script.
amalgamate() { # dir main out
  (cd "$1" && MAIN_LUA="$2" LUA_PATH='./?.lua;./?/init.lua;;' "$same" -e '
    local before = {}
    for k in pairs(package.loaded) do before[k] = true end
    local f = assert(io.open(os.getenv("LOADED_OUT"), "w"))
    assert(pcall(dofile, os.getenv("MAIN_LUA")))
    for k in pairs(package.loaded) do if not before[k] then f:write(k, "\n") end end
    f:close()' >/dev/null)
  python3 - "$1" "$2" "$3" "$work/loaded.txt" <<'EOF'
import os, sys
root, main, out, loaded = sys.argv[1:5]
wanted = set(open(loaded).read().split())
parts = []
for dp, _, fs in sorted(os.walk(root)):
    for f in sorted(fs):
        if not f.endswith(".lua") or dp == root:
            continue
        rel = os.path.relpath(os.path.join(dp, f), root)[:-4]
        name = rel.replace(os.sep, ".")
        if name.endswith(".init"):
            name = name[:-5]
        if name not in wanted:
            continue
        src = open(os.path.join(dp, f), encoding="latin-1").read()
        parts.append('package.preload["%s"] = function(...)\n%s\nend\n' % (name, src))
parts.append("do\n%s\nend\n" % open(os.path.join(root, main), encoding="latin-1").read())
open(out, "w", encoding="latin-1").write("".join(parts))
EOF
}

row() { # name dir main bundled-exe bundled-dynamic-exe
  local name=$1 dir=$2 main=$3 exe=$4 dyn=$5
  LOADED_OUT="$work/loaded.txt" amalgamate "$dir" "$main" "$work/amalg.lua"
  LUA_PATH="$same_path" "$same" -b -g "$work/amalg.lua" "$work/amalg.bc"
  LUA_PATH='./?.lua;./?/init.lua;;' python3 "$here/benches/interleave.py" --cwd "$dir" \
    --runs "$runs" --warmup 10 --json "$work/$$.json" \
    "floor=/bin/true" "same=$same $main" "debian=luajit $main" "amalgam=$same $work/amalg.bc" \
    "bundled=$exe" "dynamic=$dyn" >/dev/null
  python3 - "$name" "$work/$$.json" <<'EOF'
import json, sys
name, path = sys.argv[1:3]
m = {r["name"]: r["median"] for r in json.load(open(path))["results"]}
ms = lambda s: f"{s*1e3:.2f} ms"
print(f"| {name} | {ms(m['floor'])} | {ms(m['same'])} | {ms(m['debian'])} | {ms(m['amalgam'])} "
      f"| {ms(m['bundled'])} | {ms(m['dynamic'])} | {m['bundled']/m['same']:.2f} "
      f"| {m['dynamic']/m['debian']:.2f} | {m['bundled']/m['amalgam']:.2f} "
      f"| {m['dynamic']/m['amalgam']:.2f} |")
EOF
}

(cd "$work/hello" && "$bundle" -q main.lua -o hello && "$bundle" -q main.lua -o hello-dyn --dynamic)
(cd "$work/app" && "$bundle" -q main.lua -o app && "$bundle" -q main.lua -o app-dyn --dynamic)
(cd "$work/big" && "$bundle" -q main.lua -o big && "$bundle" -q main.lua -o big-dyn --dynamic)
(cd "$work/big" && "$bundle" -q main10.lua -o big10 && "$bundle" -q main10.lua -o big10-dyn --dynamic)

echo "| workload | /bin/true | luajit (same version) | luajit (Debian) | preload amalgam | bundled (static) | bundled --dynamic | static vs same | dynamic vs Debian | static vs amalgam | dynamic vs amalgam |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
row hello "$work/hello" main.lua "$work/hello/hello" "$work/hello/hello-dyn"
row "app (20 modules)" "$work/app" main.lua "$work/app/app" "$work/app/app-dyn"
row "big (300 modules)" "$work/big" main.lua "$work/big/big" "$work/big/big-dyn"
row "big/main10" "$work/big" main10.lua "$work/big/big10" "$work/big/big10-dyn"

# The interpreter (`bundle -o lj`, no main script; always dynamic: it may load any C module)
# against luajit's own command line, in a table of its own (no amalgam, no static build).
interp_row() { # name args (as the shell splits words)
  local name=$1 args=$2
  python3 "$here/benches/interleave.py" --cwd "$work/hello" --runs "$runs" --warmup 10 \
    --json "$work/$$.json" "floor=/bin/true" "same=$same $args" "debian=luajit $args" \
    "bundled=$work/hello/lj $args" >/dev/null
  python3 - "$name" "$work/$$.json" <<'EOF'
import json, sys
name, path = sys.argv[1:3]
m = {r["name"]: r["median"] for r in json.load(open(path))["results"]}
ms = lambda s: f"{s*1e3:.2f} ms"
print(f"| {name} | {ms(m['floor'])} | {ms(m['same'])} | {ms(m['debian'])} | {ms(m['bundled'])} "
      f"| {m['bundled']/m['same']:.2f} | {m['bundled']/m['debian']:.2f} |")
EOF
}

(cd "$work/hello" && "$bundle" -q -o lj)
echo
echo "| interpreter | /bin/true | luajit (same version) | luajit (Debian) | bundled | vs same | vs Debian |"
echo "|---|---|---|---|---|---|---|"
interp_row "\`-e 'print(1)'\`" "-e 'print(1)'"
interp_row "\`main.lua\`" main.lua
