#!/usr/bin/env bash
# Start-up against payload size (issue 19, point 4: entries verified when first used, not the
# whole payload at start). One hyperfine run, side by side, medians and ratios to the hello
# without assets of the same bundler:
#   - hello, no assets;
#   - hello + one 5 MiB incompressible asset (stored raw), never read;
#   - hello + 10,000 small files, 5 MiB in all (compressed), never read;
# for the bundler under test and, with BEFORE=path/to/older/bundle, for that one too (the
# same three programs, in the same run). Then callgrind's instruction counts of each program
# (one run each, deterministic), if valgrind is installed.
#
#   benches/payload_size_startup.sh
#   BEFORE=/tmp/bundle-before RUNS=100 benches/payload_size_startup.sh
#   BUNDLE=target/release/bundle benches/payload_size_startup.sh   # no build
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-100}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for tool in hyperfine python3; do
  command -v "$tool" >/dev/null || { echo "benches/payload_size_startup.sh: $tool is required" >&2; exit 1; }
done
if [ -n "${BUNDLE:-}" ]; then
  bundle=$(realpath "$BUNDLE")
else
  cargo build --release --quiet --manifest-path "$here/Cargo.toml"
  bundle=$here/target/release/bundle
fi

cd "$work"
echo 'print("hello")' > hello.lua
mkdir -p big many
head -c $((5 << 20)) /dev/urandom > big/blob.bin
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

build() { # bundler suffix
  "$1" -q hello.lua -o "hello0$2"
  "$1" -q hello.lua -o "hello5m$2" --asset big
  "$1" -q hello.lua -o "hello10k$2" --asset many
}
build "$bundle" ""
cmds=(./hello0 ./hello5m ./hello10k)
if [ -n "${BEFORE:-}" ]; then
  build "$(realpath "$BEFORE")" "-before"
  cmds+=(./hello0-before ./hello5m-before ./hello10k-before)
fi
for c in "${cmds[@]}"; do
  [ "$("$c")" = hello ] || { echo "benches/payload_size_startup.sh: $c does not say hello" >&2; exit 1; }
done
hyperfine -N --warmup 30 --runs "$runs" --export-json times.json "${cmds[@]}" >/dev/null

counts=()
if command -v valgrind >/dev/null; then
  for c in "${cmds[@]}"; do
    n=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$c" 2>&1 >/dev/null \
      | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
    counts+=("${n:-0}")
  done
fi

python3 - "${#cmds[@]}" "${counts[@]}" <<'PY'
import json, os, sys
n = int(sys.argv[1])
counts = [int(x) for x in sys.argv[2:]]
res = json.load(open("times.json"))["results"]
print("| program | size | median | ratio | instructions |")
print("|---|---:|---:|---:|---:|")
for i, r in enumerate(res):
    base = res[(i // 3) * 3]["median"]
    name = r["command"][2:]
    size = os.path.getsize(name)
    ins = f"{counts[i]:,}" if counts else "-"
    print(f"| {name} | {size/1e6:.2f} MB | {r['median']*1e6:.0f} us | {r['median']/base:.3f} | {ins} |")
PY
