#!/usr/bin/env bash
# Instructions the bridge executes per profile it answers, counted by callgrind: the same count on every run, where
# portrait-bench's wall-clock figures move by 10 to 30% on a shared two-core machine. Needs valgrind (Debian:
# apt-get install valgrind); the bridge runs about 50 times slower under it, so the scenarios run short and light.
#
#   bash bench/callgrind.sh                      # scenario 3 (cache hits): 8 callers, counted after a 14 s warm-up
#   bash bench/callgrind.sh --scenario=2 --s2_callers=1 --duration_s=3 --warmup_s=1 --low_load_s=3
#   BRIDGE=/tmp/old-portrait-bridge bash bench/callgrind.sh      # another build of the bridge, to compare
#
# Flags go to build/bench/portrait-bench (built by bench/run.sh or the default preset). ZERO_AFTER_S (default 14
# for the default run, else 0) resets the counts that long after the start, so that start-up and warm-up are not
# counted. Prints the bridge's instructions (all threads, user space) per profile answered (ResponseEncoder::
# AddSuccess calls) and the five bridge functions with the most instructions, inclusive, per profile.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bridge=${BRIDGE:-$root/build/bridge/portrait-bridge}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

args=("$@")
zero_after=${ZERO_AFTER_S:-0}
if ((${#args[@]} == 0)); then
  args=(--scenario=3 --s3_callers=8 --duration_s=12 --warmup_s=6)
  zero_after=${ZERO_AFTER_S:-14}
fi
cat >"$work/bridge.sh" <<WRAPPER
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file=$work/callgrind.out "$bridge" "\$@"
WRAPPER
chmod +x "$work/bridge.sh"

"$root/build/bench/portrait-bench" --plots_dir= --bridge_binary="$work/bridge.sh" "${args[@]}" >"$work/bench.log" 2>&1 &
bench=$!
if ((zero_after > 0)); then
  sleep "$zero_after"
  callgrind_control -z >/dev/null 2>&1
fi
wait "$bench" || { cat "$work/bench.log"; exit 1; }

python3 - "$work/callgrind.out" <<'PY'
import collections, re, subprocess, sys
path = sys.argv[1]
names, calls, callee, total = {}, collections.Counter(), None, 0
for line in open(path):
    if m := re.match(r'^(c?fn)=\((\d+)\)(?: (.*))?$', line):
        kind, ident, name = m.groups()
        if name:
            names[ident] = name.strip()
        if kind == 'cfn':
            callee = ident
    elif m := re.match(r'^calls=(\d+)', line):
        calls[callee] += int(m.group(1))
    elif line.startswith(('summary:', 'totals:')):
        total = int(line.split()[1])
profiles = sum(n for ident, n in calls.items() if names.get(ident, '').startswith('portrait_bridge::ResponseEncoder::AddSuccess('))
if profiles == 0:
    sys.exit('no profile was answered while counting')
print(f'profiles answered: {profiles:,}; bridge instructions per profile: {total / profiles:,.0f}')
listing = subprocess.run(['callgrind_annotate', '--inclusive=yes', path], capture_output=True, text=True).stdout
shown = set()
for line in listing.splitlines():
    m = re.match(r'^\s*([\d,]+) \(\s*[\d.]+%\)\s+\S+?:(portrait_bridge::[\w:~]+)\(', line)
    if m and m.group(2) not in shown and len(shown) < 5:
        shown.add(m.group(2))
        print(f'  {int(m.group(1).replace(",", "")) / profiles:9,.0f}  {m.group(2)}')
PY
