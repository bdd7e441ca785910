#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, ASan + UBSan, in build-fuzz/) and runs them.
#
#   tests/fuzz/run.sh                        CI mode: each target replays its seed corpus (tests/fuzz/corpus/<target>)
#                                            and fuzzes for 30 s, from a fresh working corpus
#   tests/fuzz/run.sh --long SECONDS         each target fuzzes for SECONDS, growing build-fuzz/fuzz-corpus/<target>
#                                            (kept between runs; the seeds in the tree are never written)
#   tests/fuzz/run.sh [--long SECONDS] TARGET...   only these targets
#
# Targets: portrait_api_fuzzer request_validation_fuzzer usersig_fuzzer config_fuzzer.
# Exits non-zero when any target crashes, trips a sanitizer, times out on an input or fails one of its checks. The
# input is saved as build-fuzz/fuzz-artifacts/<target>-crash-<sha1> (or -timeout-, -oom-); replay it with
# build-fuzz/tests/fuzz/<target> <file>. Logs: build-fuzz/fuzz-logs/<target>.log.
# Environment: PORTRAIT_FUZZ_JOBS, build jobs (default 2). CTest runs the CI mode as the test `fuzz` (label fuzz).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

all_targets=(portrait_api_fuzzer request_validation_fuzzer usersig_fuzzer config_fuzzer)
seconds=30
long=false
targets=()
while (($#)); do
  case "$1" in
    --long)
      [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "run.sh: --long needs a number of seconds" >&2; exit 2; }
      seconds=$2
      long=true
      shift 2
      ;;
    -h | --help)
      sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "run.sh: unknown option $1 (see --help)" >&2
      exit 2
      ;;
    *)
      [[ " ${all_targets[*]} " == *" $1 "* ]] || { echo "run.sh: unknown target $1" >&2; exit 2; }
      targets+=("$1")
      shift
      ;;
  esac
done
((${#targets[@]})) || targets=("${all_targets[@]}")

# No silent skip: without clang and libFuzzer this fails, saying what to install.
if ! command -v clang++ >/dev/null; then
  echo "run.sh: clang++ not found. The fuzz targets need clang with libFuzzer: apt-get install clang libclang-rt-dev" \
    "(bash .ci/install-deps installs both)" >&2
  exit 1
fi
libfuzzer="$(clang++ -print-resource-dir)/lib/linux/libclang_rt.fuzzer-$(uname -m).a"
if [ ! -f "$libfuzzer" ]; then
  echo "run.sh: libFuzzer not found ($libfuzzer): apt-get install libclang-rt-dev (bash .ci/install-deps installs it)" >&2
  exit 1
fi

build=$root/build-fuzz
jobs=${PORTRAIT_FUZZ_JOBS:-2}
mkdir -p "$build"
echo "== building the fuzz targets (cmake --preset fuzz, $jobs jobs)"
start=$SECONDS
if ! cmake --preset fuzz >"$build/fuzz-configure.log" 2>&1; then
  cat "$build/fuzz-configure.log" >&2
  exit 1
fi
if ! cmake --build --preset fuzz -j "$jobs" >"$build/fuzz-build.log" 2>&1; then
  tail -n 80 "$build/fuzz-build.log" >&2
  exit 1
fi
echo "   built in $((SECONDS - start)) s"

mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
# The config fuzzer's scratch files go here (it makes its own directory under TMPDIR).
export TMPDIR=$build/fuzz-tmp
rm -rf "$TMPDIR"
mkdir -p "$TMPDIR"

failed=()
printf '%-26s %8s %10s %9s %8s %7s  %s\n' target seconds executions "execs/s" "new" corpus result
for target in "${targets[@]}"; do
  seeds=$root/tests/fuzz/corpus/$target
  if $long; then
    corpus=$build/fuzz-corpus/$target
  else
    corpus=$build/fuzz-ci-corpus/$target
    rm -rf "$corpus"
  fi
  mkdir -p "$corpus"
  log=$build/fuzz-logs/$target.log
  options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$build/fuzz-artifacts/$target-")
  case $target in
    portrait_api_fuzzer | usersig_fuzzer) options+=(-dict="$root/tests/fuzz/json.dict") ;;
  esac
  rc=0
  "$build/tests/fuzz/$target" "${options[@]}" "$corpus" "$seeds" >"$log" 2>&1 || rc=$?
  final_stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
  result=ok
  if ((rc != 0)); then
    result="FAILED (exit $rc)"
    failed+=("$target")
  fi
  printf '%-26s %8s %10s %9s %8s %7s  %s\n' "$target" "$seconds" "$(final_stat number_of_executed_units)" \
    "$(final_stat average_exec_per_sec)" "$(final_stat new_units_added)" "$(find "$corpus" -type f | wc -l)" "$result"
  if ((rc != 0)); then
    echo "---- $log (end)" >&2
    grep -v -e '^#[0-9]' -e '^INFO:' "$log" | tail -n 60 >&2
    echo "---- saved input(s):" >&2
    ls -t "$build/fuzz-artifacts/$target-"* 2>/dev/null | head -n 3 >&2 || true
  fi
done
rm -rf "$TMPDIR"

if ((${#failed[@]})); then
  echo "run.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "run.sh: every target ran ${seconds} s without a failure"
