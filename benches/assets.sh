#!/usr/bin/env bash
# Embedded files (`--asset`, issue 15) against the disk, on the same machine, each question in
# one hyperfine run (medians; ratios printed):
#
# The machine is shared and noisy: each hyperfine run is repeated ROUNDS times (default 3) and
# each command keeps its lowest median.
#
#   1. start-up: hello with 10,000 small assets against hello with none (and with one, which
#      installs the overlay; and luajit hello.lua);
#   2. reading a 1 MiB incompressible file (stored raw): require("bundle/assets").read and
#      io.open():read("a") on the embedded path, against io.open():read("a") of the same file
#      on disk (page cache) under luajit and under the bundled program without assets. Each
#      program reads it N times; the cost of one read is (time(N) - time(0)) / N.
#
#   benches/assets.sh            # full run
#   RUNS=10 benches/assets.sh    # fewer runs per command
#   BUNDLE=path/to/bundle benches/assets.sh   # measure that build instead of building one
set -euo pipefail

. "$(dirname "$0")/common.sh"
runs=${RUNS:-30}
rounds=${ROUNDS:-3}
reads=${READS:-100}

require hyperfine luajit python3

use_bundle
# measure NAME HYPERFINE-ARGS...: ROUNDS runs of hyperfine; prints each command's lowest median.
measure() {
  local name=$1; shift
  for r in $(seq "$rounds"); do
    hyperfine -N --runs "$runs" --export-json "$work/$name.$r.json" "$@" >/dev/null
  done
  python3 - "$work/$name" "$rounds" <<'PY'
import json, sys
rounds = [json.load(open(f"{sys.argv[1]}.{r}.json"))["results"] for r in range(1, int(sys.argv[2]) + 1)]
print(" ".join(str(min(rs[i]["median"] for rs in rounds)) for i in range(len(rounds[0]))))
PY
}

# --- 1. Start-up with 10,000 assets ------------------------------------------------------------
start=$work/start
mkdir -p "$start"
python3 - "$start/many" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(100):
    os.makedirs(f"{root}/d{d:02}")
    for f in range(100):
        with open(f"{root}/d{d:02}/f{f:02}.txt", "w") as out:
            out.write(f"asset {d}/{f}\n" * (1 + (d * f) % 8))
PY
echo 'print("hello")' > "$start/hello.lua"
t0=$(date +%s%N)
(cd "$start" && "$bundle" -q hello.lua -o hello10k --asset many)
t1=$(date +%s%N)
(cd "$start" && "$bundle" -q hello.lua -o hello0)
(cd "$start" && "$bundle" -q hello.lua -o hello1 --asset many/d00/f00.txt)
read -r none one many lj < <(cd "$start" && measure start --warmup 20 "./hello0" "./hello1" "./hello10k" "luajit hello.lua")
python3 - "$none" "$one" "$many" "$lj" "$(stat -c %s "$start/hello0")" "$(stat -c %s "$start/hello10k")" "$(( (t1 - t0) / 1000000 ))" <<'PY'
import sys
none, one, many, lj = (float(x) for x in sys.argv[1:5])
s0, s1, ms = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
print("| start-up | median | ratio |")
print("|---|---|---|")
print(f"| luajit hello.lua | {lj*1e3:.2f} ms | {lj/none:.2f} |")
print(f"| hello, no assets | {none*1e3:.2f} ms | 1.00 |")
print(f"| hello, 1 asset | {one*1e3:.2f} ms | {one/none:.2f} |")
print(f"| hello, 10,000 assets | {many*1e3:.2f} ms | {many/none:.2f} |")
print(f"\nsizes: {s0} B without assets, {s1} B with 10,000 ({(s1-s0)/10000:.0f} B per asset); bundling with them: {ms} ms")
PY

# --- 2. Reading a 1 MiB raw asset --------------------------------------------------------------
rd=$work/read
mkdir -p "$rd/data"
head -c 1048576 /dev/urandom > "$rd/data/blob.bin"
cat > "$rd/read_io.lua" <<'LUA'
for _ = 1, tonumber(arg[1]) do
  local f = assert(io.open("data/blob.bin", "rb"))
  local s = f:read("a")
  f:close()
  assert(#s == 1048576)
end
LUA
cat > "$rd/read_api.lua" <<'LUA'
local assets = require("bundle/assets")
for _ = 1, tonumber(arg[1]) do
  local s = assert(assets.read("data/blob.bin"))
  assert(#s == 1048576)
end
LUA
# Embedded files shadow the disk: the programs with the asset read it from memory even here,
# where data/blob.bin also exists for the others.
(cd "$rd" && "$bundle" -q read_io.lua -o io_disk \
  && "$bundle" -q read_io.lua -o io_embedded --asset data \
  && "$bundle" -q read_api.lua -o api_embedded --asset data)
"$bundle" inspect "$rd/io_embedded" --json | python3 -c 'import json,sys
a = [x for x in json.load(sys.stdin)["payload"]["assets"] if x["mount"] == "data/blob.bin"][0]
assert a["codec"] == "stored", a' || { echo "benches/assets.sh: blob.bin is not stored raw" >&2; exit 1; }
read -r -a m < <(cd "$rd" && measure read --warmup 5 \
  "luajit read_io.lua 0" "luajit read_io.lua $reads" \
  "./io_disk 0" "./io_disk $reads" \
  "./io_embedded 0" "./io_embedded $reads" \
  "./api_embedded 0" "./api_embedded $reads")
python3 - "$reads" "${m[@]}" <<'PY'
import sys
n = int(sys.argv[1])
m = [float(x) for x in sys.argv[2:]]
per = [(m[i + 1] - m[i]) / n * 1e6 for i in range(0, 8, 2)]
names = [
    "luajit, io.open():read('a'), disk",
    "bundled without assets, io.open():read('a'), disk",
    "bundled, io.open():read('a'), embedded",
    "bundled, require('bundle/assets').read, embedded",
]
print(f"\n| read 1 MiB (raw), {n} times | whole run | one read | ratio to luajit |")
print("|---|---|---|---|")
for name, total, p in zip(names, m[1::2], per):
    print(f"| {name} | {total*1e3:.1f} ms | {p:.0f} µs | {p/per[0]:.2f} |")
PY
