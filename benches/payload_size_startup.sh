#!/usr/bin/env bash
# Start-up against payload size (issue 19, point 4: entries verified when first used, not the
# whole payload at start). One hyperfine run, side by side, medians:
#   - hello0: hello, no assets;
#   - hello1: hello + one tiny asset (what any asset costs: the overlay, runtime/lua/assets.lua);
#   - hello5m: hello + one 5 MiB incompressible asset (stored raw), never read;
#   - hello10k: hello + 10,000 small files, 5 MiB in all (compressed), never read;
#   - mod0: hello whose main script could require a module, a tiny one, but does not;
#   - mod5m: the same with a 5 MiB module (a string constant, ~3.9 MB stored): bulk in the
#     payload with no overlay, as a packed native library loaded only on demand would be;
# for the bundler under test and, with BEFORE=path/to/older/bundle, for that one too (the
# same programs, in the same run). The machine is shared and noisy: the run is repeated ROUNDS
# times (default 3) and each program keeps its lowest median. Ratios: to hello0, and to the same program without the bulk
# (hello1 for the assets, mod0 for the module). Then callgrind's instruction counts of each
# program (one run each, deterministic), if valgrind is installed.
#
#   benches/payload_size_startup.sh
#   BEFORE=/tmp/bundle-before RUNS=100 benches/payload_size_startup.sh
#   BUNDLE=target/release/bundle benches/payload_size_startup.sh   # no build
#   FLAGS=--dynamic BEFORE_FLAGS= ...   # extra flags for each bundler (word-split)
#   INTERLEAVE=300 ...   # then also benches/interleave.py, 300 interleaved rounds of the same
set -euo pipefail

. "$(dirname "$0")/common.sh"
runs=${RUNS:-100}
rounds=${ROUNDS:-3}
require hyperfine python3
use_bundle

cd "$work"
echo 'print("hello")' > hello.lua
mkdir -p big many
head -c $((5 << 20)) /dev/urandom > big/blob.bin
echo tiny > one.txt
printf 'print("hello")\nif arg[1] == "load" then require("big") end\n' > modmain.lua
mkdir -p small bulk
echo 'return 1' > small/big.lua
python3 - bulk/big.lua <<'PY'
import base64, os, sys
body = base64.b64encode(os.urandom(3 * (5 << 20) // 4)).decode()
open(sys.argv[1], "w").write('return "' + body + '"\n')
PY
python3 - many <<'PY'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(19)
words = [bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz ") for _ in range(8)) for _ in range(64)]
for d in range(100):
    os.makedirs(f"{root}/d{d:02}")
    for f in range(100):
        # ~524 bytes of text each, 5 MiB in all: compressible, as small text assets are.
        body = b"".join(rnd.choice(words) for _ in range(65)) + b"\n" * 4
        open(f"{root}/d{d:02}/f{f:02}.txt", "wb").write(body)
PY

build() { # bundler suffix flags...
  local b=$1 s=$2
  shift 2
  "$b" -q "$@" hello.lua -o "hello0$s"
  "$b" -q "$@" hello.lua -o "hello1$s" --asset one.txt
  "$b" -q "$@" hello.lua -o "hello5m$s" --asset big
  "$b" -q "$@" hello.lua -o "hello10k$s" --asset many
  (cd small && "$b" -q "$@" ../modmain.lua -o "../mod0$s")
  (cd bulk && "$b" -q "$@" ../modmain.lua -o "../mod5m$s")
}
# shellcheck disable=SC2086
build "$bundle" "" ${FLAGS:-}
names=(hello0 hello1 hello5m hello10k mod0 mod5m)
cmds=("${names[@]/#/./}")
if [ -n "${BEFORE:-}" ]; then
  # shellcheck disable=SC2086
  build "$(realpath "$BEFORE")" "-before" ${BEFORE_FLAGS:-}
  for n in "${names[@]}"; do cmds+=("./$n-before"); done
fi
for c in "${cmds[@]}"; do
  [ "$("$c")" = hello ] || { echo "benches/payload_size_startup.sh: $c does not say hello" >&2; exit 1; }
done
for r in $(seq "$rounds"); do
  hyperfine -N --warmup 30 --runs "$runs" --export-json "times.$r.json" "${cmds[@]}" >/dev/null 2>&1
done

if [ -n "${INTERLEAVE:-}" ]; then
  iargs=()
  for c in "${cmds[@]}"; do iargs+=("${c#./}=$c"); done
  python3 "$here/benches/interleave.py" --runs "$INTERLEAVE" "${iargs[@]}"
fi

counts=()
if command -v valgrind >/dev/null; then
  for c in "${cmds[@]}"; do
    n=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$c" 2>&1 >/dev/null \
      | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
    counts+=("${n:-0}")
  done
fi

python3 - "$rounds" "${counts[@]}" <<'PY'
import json, os, sys
counts = [int(x) for x in sys.argv[2:]]
rounds = [json.load(open(f"times.{r}.json"))["results"] for r in range(1, int(sys.argv[1]) + 1)]
res = [dict(rs[0], median=min(x["median"] for x in rs)) for rs in zip(*rounds)]
med = {r["command"][2:]: r["median"] for r in res}
base = {"hello1": "hello1", "hello5m": "hello1", "hello10k": "hello1", "mod5m": "mod0"}
print("| program | size | median | ratio to hello0 | ratio without the bulk | instructions |")
print("|---|---:|---:|---:|---:|---:|")
for i, r in enumerate(res):
    name = r["command"][2:]
    stem, _, suffix = name.partition("-")
    tail = "-" + suffix if suffix else ""
    m = r["median"]
    own = base.get(stem, stem)
    ins = f"{counts[i]:,}" if counts else "-"
    print(f"| {name} | {os.path.getsize(name)/1e6:.2f} MB | {m*1e6:.0f} us | "
          f"{m/med['hello0' + tail]:.3f} | {m/med[own + tail]:.3f} | {ins} |")
PY
