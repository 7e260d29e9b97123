#!/usr/bin/env bash
# Benchmarks `bundle` against `luajit` on the same machine, in the same run (hyperfine).
#
#   benches/run.sh            # full run
#   RUNS=20 benches/run.sh    # fewer runs per command
#
# Workloads: benches/gen_apps.py (hello; big = 300 modules, 2.2 MB of Lua; big/main10 =
# the same tree with 10 modules required). Modules are found by bundle's own discovery; the
# main10 bundle is also built with all 300 modules (-m 'prefix.*' for every top-level package),
# to measure lazy loading: start-up must not grow with the modules a program does not use.
# Embedded files (start-up with 10,000 assets, reading a 1 MiB asset) are benches/assets.sh,
# run at the end.
# Prints a Markdown table of medians and ratios.
set -euo pipefail

. "$(dirname "$0")/common.sh"
runs=${RUNS:-50}

require hyperfine luajit python3

use_bundle
python3 "$here/benches/gen_apps.py" "$work" >/dev/null

# Every module of big/, as -m NAME flags, for the all-modules main10 bundle.
mapfile -t all_flags < <(sed -e 's/\.lua$//' -e 's#/init$##' -e 's#/#.#g' -e 's/^/-m\n/' "$work/big/MODULES.txt")

(cd "$work/hello" && "$bundle" -q main.lua -o hello)
(cd "$work/big" && "$bundle" -q main.lua -o big)
(cd "$work/big" && "$bundle" -q main10.lua -o big10)
(cd "$work/big" && "$bundle" -q main10.lua "${all_flags[@]}" -o big10all)

export LUA_PATH='./?.lua;./?/init.lua;;'
median() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]["median"])' "$@"; }
compare() { # name dir luajit-command bundled-command
  local name=$1 dir=$2
  (cd "$dir" && hyperfine -N --warmup 20 --runs "$runs" --export-json "$work/$name.json" "$3" "$4" >/dev/null)
  local l b
  l=$(median "$work/$name.json" 0)
  b=$(median "$work/$name.json" 1)
  python3 -c 'import sys; l,b=float(sys.argv[2]),float(sys.argv[3]); print(f"| {sys.argv[1]} | {l*1e3:.2f} ms | {b*1e3:.2f} ms | {b/l:.2f} |")' "$name" "$l" "$b"
}

echo "| workload | luajit | bundled | ratio |"
echo "|---|---|---|---|"
compare hello "$work/hello" "luajit main.lua" "./hello"
compare big "$work/big" "luajit main.lua" "./big"
compare big/main10 "$work/big" "luajit main10.lua" "./big10"
compare "big/main10, all 300 packed" "$work/big" "luajit main10.lua" "./big10all"
# The interpreter (no main script): luajit's own command line, with a one-line chunk.
(cd "$work/hello" && "$bundle" -q -o mylua)
compare "interpreter -e 'print(1)'" "$work/hello" "luajit -e 'print(1)'" "./mylua -e 'print(1)'"

(cd "$work/big" && hyperfine -N --warmup 3 --runs "$((runs / 2 > 5 ? runs / 2 : 5))" --export-json "$work/bt.json" \
  "$bundle -q main.lua -o $work/big-bt" "$bundle -q --list main.lua" >/dev/null)
ms() { python3 -c 'import sys; print(f"{float(sys.argv[1])*1e3:.1f} ms")' "$1"; }
echo
echo "bundle time of big (300 modules found, compiled to bytecode, packed): $(ms "$(median "$work/bt.json" 0)")"
echo "scan + resolve of big (bundle --list, whole process): $(ms "$(median "$work/bt.json" 1)")"
size() { stat -c %s "$1"; }
echo "sizes: hello $(size "$work/hello/hello") B, big $(size "$work/big/big") B, bare stub $(size "$(ls "$here"/target/stub-build/*/stub/bundle-stub | head -n1)") B"

# --- Native modules -----------------------------------------------------------------------
# The cost of requiring a C module: bundled (from memory) versus luajit (from the filesystem),
# each measured as the difference to an empty program of its own kind.
native=$work/native
mkdir -p "$native"
echo 'local x = 1' > "$native/empty.lua"
echo 'require("cjson") require("luv")' > "$native/req.lua"
(cd "$native" && "$bundle" -q empty.lua -o empty && "$bundle" -q req.lua -o req)
(cd "$native" && hyperfine -N --warmup 20 --runs "$runs" --export-json "$work/native.json" \
  "luajit empty.lua" "luajit req.lua" "./empty" "./req" >/dev/null)
python3 - "$work/native.json" <<'PY'
import json, sys
r = [x["median"] for x in json.load(open(sys.argv[1]))["results"]]
dl, db = (r[1] - r[0]) * 1e6, (r[3] - r[2]) * 1e6
print(f"\nrequire cjson + luv (with libuv): luajit from disk +{dl:.0f} µs, bundled from memory +{db:.0f} µs: difference {db - dl:+.0f} µs")
PY

# Requests per second of the example server (wrk, loopback), bundled vs run by luajit.
if command -v wrk >/dev/null; then
  srv=$here/examples/server
  "$bundle" -q "$srv/main.lua" -o "$work/server"
  rps() { # command... ; prints requests/s
    local port=$1; shift
    PORT=$port "$@" >/dev/null & local pid=$!
    sleep 0.5
    wrk -t1 -c32 -d5s "http://127.0.0.1:$port/json" | awk '/Requests\/sec/ {print $2}'
    kill $pid; wait $pid 2>/dev/null || true
  }
  a=$(cd "$srv" && rps 18181 luajit main.lua)
  b=$(rps 18182 "$work/server")
  python3 -c 'import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f"example server /json: luajit {a:.0f} req/s, bundled {b:.0f} req/s: ratio {b/a:.2f}")' "$a" "$b"
else
  echo "(wrk not installed: server throughput not measured)"
fi

# --- Embedded files (--asset) -------------------------------------------------------------
echo
BUNDLE=$bundle RUNS=$runs "$here/benches/assets.sh"
