#!/usr/bin/env bash
# The benchmark command (bench/README.md): builds the bridge, the sandbox and the load generator into build/
# (the default preset, two jobs), then runs the scenarios.
#
#   bash bench/run.sh                 # scenarios 1, 1b, 2, 3, 4, 5 (about 5 minutes); plots in build/bench/plots/
#   bash bench/run.sh --scenario 2    # one scenario (1b: the open loop; 5: three bridges sharing a budget via Redis)
#   bash bench/run.sh --quick         # smoke run: 3 s windows, 2,000 idle streams
#
# Any other flag goes to portrait-bench (`build/bench/portrait-bench --help`). A JSON summary is written to
# build/bench/results.json unless --json_out is given.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --preset default >/dev/null
cmake --build --preset default --target portrait-bridge portrait-sandbox portrait-bench

args=("$@")
json=(--json_out=build/bench/results.json)
for arg in "${args[@]}"; do
  case "$arg" in --json_out*) json=() ;; esac
done
exec build/bench/portrait-bench "${json[@]}" "${args[@]}"
