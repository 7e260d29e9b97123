#!/usr/bin/env python3
"""Writes the synthetic Lua programs that the tests and benchmarks of `bundle` run.

    python3 benches/gen_apps.py ROOT

ROOT/hello/main.lua   one print
ROOT/app/             main.lua and 20 modules (~3,000 lines): nested directories, init.lua
                      packages, modules requiring modules
ROOT/big/             main.lua and 300 modules (~2 MB of Lua); main10.lua requires only 10 of
                      them; MODULES.txt lists the module files, one path (relative to big/) a line

The code is plain Lua 5.1 (string and table work, integer arithmetic only, no dependence on
`pairs` order), so luajit and a bundled executable print the same bytes. A module requires only
modules generated before it (a DAG), and each main prints `modules=N checksum=C`.

The output is a function of this file alone: every choice comes from the fixed-seed generator
below (SplitMix64), so two runs write identical trees. ROOT/app and ROOT/big are replaced.
"""
import os
import shutil
import sys
from string import Template

MASK64 = (1 << 64) - 1


class Rng:
    """SplitMix64: small, fast and the same on every Python version."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % n

    def between(self, lo, hi):
        return lo + self.below(hi - lo + 1)

    def pick(self, seq):
        return seq[self.below(len(seq))]

    def shuffle(self, seq):
        for i in range(len(seq) - 1, 0, -1):
            j = self.below(i + 1)
            seq[i], seq[j] = seq[j], seq[i]


PACKAGES = ["engine", "store", "parse", "render", "shell", "codec",
            "graph", "sched", "crypto", "media", "geo", "stats"]
SUBPACKAGES = ["cache", "index", "queue", "proto", "table", "buffer",
               "filter", "layout", "token", "stream"]
LEAVES = ["fast", "slow", "pure", "safe", "raw", "lazy",
          "eager", "wide", "deep", "flat", "tiny", "bulk"]
WORDS = ["amber", "basalt", "cobalt", "dune", "ember", "fjord", "granite", "harbor",
         "island", "jasper", "kelp", "lagoon", "marble", "nectar", "orchid", "pebble",
         "quartz", "river", "saffron", "tundra"]

# Function templates: (body, call). `$i` is the function's slot in the module's table F; the
# other placeholders are filled from the generator. Every function returns a small non-negative
# integer, so the checksums stay exact in doubles.
TEMPLATES = [
    ("""F[$i] = function(s, shift)
  local out = {}
  for i = 1, #s do
    local c = string.byte(s, i)
    if c >= 97 and c <= 122 then
      c = (c - 97 + shift) % 26 + 97
    end
    out[i] = string.char(c)
  end
  local r = table.concat(out)
  local h = 0
  for i = 1, #r do
    h = (h * 31 + string.byte(r, i)) % 65521
  end
  return h
end""", 'F[$i]("$w1 $w2", $shift)'),
    ("""F[$i] = function(n)
  local stack = {}
  for i = 1, n do
    table.insert(stack, (i * $a) % $m)
  end
  table.insert(stack, 1, $c)
  local acc = 0
  while #stack > 0 do
    local v = table.remove(stack)
    acc = (acc * 7 + v) % 99991
  end
  return acc
end""", "F[$i]($n)"),
    ("""F[$i] = function(word, times)
  local s = string.rep(word .. "-", times)
  local count, pos = 0, 1
  while true do
    local first, last = string.find(s, "$sub", pos, true)
    if not first then
      break
    end
    count = count + 1
    pos = last + 1
  end
  return count * 1000 + #s
end""", 'F[$i]("$w1", $n)'),
    ("""F[$i] = function(n)
  local grid = {}
  for r = 1, n do
    local row = {}
    for c = 1, n do
      row[c] = (r * $a + c * $b) % $m
    end
    grid[r] = row
  end
  local trace, anti = 0, 0
  for k = 1, n do
    trace = trace + grid[k][k]
    anti = anti + grid[k][n + 1 - k]
  end
  return trace * 3 + anti
end""", "F[$i]($n)"),
    ("""F[$i] = function(text)
  local counts, order = {}, {}
  for w in string.gmatch(text, "%a+") do
    local key = string.lower(w)
    if counts[key] then
      counts[key] = counts[key] + 1
    else
      counts[key] = 1
      order[#order + 1] = key
    end
  end
  table.sort(order)
  local acc = 0
  for idx, key in ipairs(order) do
    acc = acc + idx * counts[key] * #key
  end
  return acc
end""", 'F[$i]("$text")'),
    ("""F[$i] = function(n)
  local parts = {}
  for i = 1, n do
    parts[#parts + 1] = string.format("%05d|%x|%s", i * $a, i * $b, "$w1")
  end
  local s = table.concat(parts, ";")
  local _, digits = string.gsub(s, "%d", "")
  return #s * 11 + digits
end""", "F[$i]($n)"),
    ("""F[$i] = function(limit)
  local composite = {}
  local count, last = 0, 0
  for p = 2, limit do
    if not composite[p] then
      count = count + 1
      last = p
      for q = p * p, limit, p do
        composite[q] = true
      end
    end
  end
  return count * 1000 + last
end""", "F[$i]($limit)"),
    ("""F[$i] = function(s)
  local out, i = {}, 1
  while i <= #s do
    local c = string.sub(s, i, i)
    local j = i
    while string.sub(s, j + 1, j + 1) == c do
      j = j + 1
    end
    out[#out + 1] = (j - i + 1) .. c
    i = j + 1
  end
  local enc = table.concat(out)
  return #enc * 100 + string.byte(enc, #enc)
end""", 'F[$i]("$runs")'),
    ("""F[$i] = function(n, target)
  local xs = {}
  for i = 1, n do
    xs[i] = (i * $a) % $m
  end
  table.sort(xs)
  local lo, hi, steps = 1, #xs, 0
  while lo <= hi do
    steps = steps + 1
    local mid = math.floor((lo + hi) / 2)
    if xs[mid] == target then
      return mid * 10 + steps
    elseif xs[mid] < target then
      lo = mid + 1
    else
      hi = mid - 1
    end
  end
  return lo * 10 + steps
end""", "F[$i]($n, $target)"),
    ("""F[$i] = function(s)
  local best = 0
  for a = 1, #s do
    for b = a + best, #s do
      local sub = string.sub(s, a, b)
      if sub == string.reverse(sub) then
        best = #sub
      end
    end
  end
  return best * 37 + #s
end""", 'F[$i]("$pal")'),
    ("""F[$i] = function(n)
  local recs = {}
  for i = 1, n do
    recs[i] = { id = i, score = (i * $a) % $m, tag = string.char(97 + (i * $b) % 26) }
  end
  table.sort(recs, function(x, y)
    if x.score ~= y.score then
      return x.score > y.score
    end
    return x.id < y.id
  end)
  local acc = 0
  for k, r in ipairs(recs) do
    acc = (acc + k * r.id + string.byte(r.tag)) % 65521
  end
  return acc
end""", "F[$i]($n)"),
    ("""F[$i] = function(s)
  local r = string.gsub(s, "(%a)(%a*)", function(head, tail)
    return string.upper(head) .. string.lower(tail)
  end)
  local _, vowels = string.gsub(r, "[AEIOUaeiou]", "")
  return #r * 13 + vowels
end""", 'F[$i]("$w1 $W2 $w3")'),
]
TEMPLATES = [(Template(body), Template(call)) for body, call in TEMPLATES]


def fill(rng, slot):
    """Values for every placeholder of every template (unused ones are ignored)."""
    w1, w2, w3 = rng.pick(WORDS), rng.pick(WORDS), rng.pick(WORDS)
    start = rng.below(len(w1) - 1)
    text = [rng.pick(WORDS) for _ in range(rng.between(3, 6))]
    text += [text[rng.below(len(text))].upper() for _ in range(rng.between(1, 3))]
    runs = "".join(rng.pick("abcde") * rng.between(1, 4) for _ in range(rng.between(3, 7)))
    half = "".join(rng.pick("xyz") for _ in range(rng.between(2, 5)))
    return dict(
        i=slot, a=rng.between(3, 97), b=rng.between(5, 89), c=rng.between(1, 999),
        m=rng.between(101, 9973), n=rng.between(3, 9), shift=rng.between(1, 25),
        target=rng.between(0, 200), limit=rng.between(20, 120),
        w1=w1, w2=w2, w3=w3, W2=w2.upper(), sub=w1[start:start + 2], text=" ".join(text),
        runs=runs, pal=rng.pick(WORDS)[:3] + half + half[::-1],
    )


def module_names(n, rng):
    """n distinct module names with their files: packages with init.lua (at the top and one
    level down) and plain modules one to three levels deep, in a shuffled order."""
    names = []  # (name, relative path)
    for top in PACKAGES[:min(len(PACKAGES), max(2, n // 25))]:
        names.append((top, top + "/init.lua"))
    nested = set()
    while len(nested) < max(1, n // 30):
        nested.add(rng.pick(PACKAGES) + "." + rng.pick(SUBPACKAGES))
    for name in sorted(nested):
        names.append((name, name.replace(".", "/") + "/init.lua"))
    while len(names) < n:
        parts = [rng.pick(PACKAGES), rng.pick(SUBPACKAGES), rng.pick(LEAVES)]
        parts = parts[:rng.pick([1, 2, 2, 3, 3])]
        parts[-1] += str(len(names))  # the suffix keeps names distinct from packages
        name = ".".join(parts)
        names.append((name, name.replace(".", "/") + ".lua"))
    rng.shuffle(names)
    return names


def module_source(idx, name, deps, nfuncs, rng):
    out = [f"-- {name}: generated module #{idx} (benches/gen_apps.py)"]
    for k, dep in enumerate(deps):
        out.append(f'local dep{k} = require("{dep}")')
    out += ["", "local M = {}", "local F = {}", f'M.name = "{name}"']
    data = [str(rng.below(1000)) for _ in range(rng.between(6, 16))]
    out += ["M.DATA = { " + ", ".join(data) + " }", ""]
    calls = []
    for slot in range(1, nfuncs + 1):
        body, call = TEMPLATES[rng.below(len(TEMPLATES))]
        values = fill(rng, slot)
        out += [body.substitute(values), ""]
        calls.append(call.substitute(values))
    out += ["function M.run(seed)", "  local acc = seed % 1000003"]
    out += [f"  acc = (acc * 33 + {call}) % 1000003" for call in calls]
    out += ["  for i = 1, #M.DATA do", "    acc = (acc + M.DATA[i] * i) % 1000003", "  end"]
    out += [f"  acc = (acc + dep{k}.value) % 1000003" for k in range(len(deps))]
    out += ["  return acc", "end", "", f"M.value = {idx * 13 + 5}"]
    out += [f"M.value = (M.value * 3 + dep{k}.value) % 1000003" for k in range(len(deps))]
    out += ["", "return M"]
    return "\n".join(out) + "\n"


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def write_app(root, dirname, nmods, funcs, seed, partial):
    """Writes ROOT/dirname; `funcs` is the (min, max) number of functions per module; `partial`,
    if set, is how many modules main10.lua requires. Returns (modules, lines, bytes)."""
    rng = Rng(seed)
    base = os.path.join(root, dirname)
    shutil.rmtree(base, ignore_errors=True)
    names = module_names(nmods, rng)
    lines = size = 0
    for idx, (name, rel) in enumerate(names):
        deps = []
        for _ in range(rng.between(0, 3) if idx else 0):
            dep = names[rng.below(idx)][0]
            if dep not in deps:
                deps.append(dep)
        src = module_source(idx, name, deps, rng.between(*funcs), rng)
        write(os.path.join(base, rel), src)
        lines += src.count("\n")
        size += len(src)
    main = ["-- generated main (benches/gen_apps.py): requires every module", "local mods = {"]
    main += [f'  require("{name}"),' for name, _ in names]
    main += ["}", "local acc = 17", "for i = 1, #mods do",
             "  acc = (acc * 131 + mods[i].run(i)) % 1000003", "end",
             'print(string.format("modules=%d checksum=%d", #mods, acc))']
    src = "\n".join(main) + "\n"
    write(os.path.join(base, "main.lua"), src)
    lines += src.count("\n")
    size += len(src)
    if partial:
        chosen = []
        while len(chosen) < partial:
            k = rng.below(nmods)
            if k not in chosen:
                chosen.append(k)
        m10 = [f"-- generated main{partial} (benches/gen_apps.py): requires {partial} of the"
               f" {nmods} modules", "local acc = 17"]
        m10 += [f'acc = (acc * 131 + require("{names[k][0]}").run({n})) % 1000003'
                for n, k in enumerate(chosen, 1)]
        m10.append(f'print(string.format("modules={partial} checksum=%d", acc))')
        write(os.path.join(base, f"main{partial}.lua"), "\n".join(m10) + "\n")
    write(os.path.join(base, "MODULES.txt"), "".join(rel + "\n" for _, rel in names))
    return len(names), lines, size


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_apps.py ROOT")
    root = sys.argv[1]
    write(os.path.join(root, "hello", "main.lua"), 'print("hello")\n')
    print(f"{root}/hello: main.lua, 1 line")
    for dirname, nmods, funcs, seed, partial in [
        ("app", 20, (6, 12), 0x5EED0020, None),
        ("big", 300, (14, 24), 0x5EED0300, 10),
    ]:
        mods, lines, size = write_app(root, dirname, nmods, funcs, seed, partial)
        print(f"{root}/{dirname}: main.lua + {mods} modules, {lines} lines, {size} bytes")


if __name__ == "__main__":
    main()
