#!/usr/bin/env bash
# The suite's cleanup test (CTest fixture "suite_processes", run after every test that starts processes): fails,
# listing them, when a portrait-bridge, portrait-sandbox or redis-server process started by this run of the suite
# is still alive, and then kills them (SIGKILL) so that they do not outlive the run either.
#
# A process belongs to the run when its environment holds PORTRAIT_TEST_SUITE_RUN=<run id> (set by Subprocess,
# clients/testing/start_stack.sh and tests/helm/run.sh; see tests/support/test_run_id.sh). Processes of other runs,
# concurrent ones included, carry other ids and are not looked at; nor are other users' (their environment cannot
# be read).
#   tests/support/check_no_leftover_processes.sh [RUN_ID]     (default: this run's, as test_run_id.sh computes it)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/test_run_id.sh"
run_id=${1:-$(portrait_test_run_id)}
marker="PORTRAIT_TEST_SUITE_RUN=$run_id"

leftovers=()
for dir in /proc/[0-9]*; do
  pid=${dir#/proc/}
  [ "$pid" = "$$" ] && continue
  grep -qzxF -- "$marker" "$dir/environ" 2>/dev/null || continue
  # The name as the kernel has it (redis-server's binary is a symlink to redis-check-rdb, so not the exe's name;
  # a name is cut to 15 characters: portrait-sandbo), and argv[0]'s last component.
  { comm=$(<"$dir/comm"); } 2>/dev/null || continue
  argv0=$(tr '\0' '\n' <"$dir/cmdline" 2>/dev/null | head -n 1)
  argv0=${argv0##*/}
  argv0=${argv0%% *}
  case "$comm/$argv0" in
    portrait-bridge/* | portrait-sandbo/* | redis-server/* | */portrait-bridge | */portrait-sandbox | */redis-server) ;;
    *) continue ;;
  esac
  state=$(awk '{ sub(/.*\) /, ""); print $1 }' "$dir/stat" 2>/dev/null)
  [ "$state" = Z ] && continue  # Exited; its parent has not reaped it yet.
  leftovers+=("$pid")
done

if [ "${#leftovers[@]}" -eq 0 ]; then
  echo "no portrait-bridge, portrait-sandbox or redis-server process of run $run_id is left"
  exit 0
fi
echo "FAIL: ${#leftovers[@]} process(es) of run $run_id outlived the tests that started them:" >&2
ps -o pid=,ppid=,etime=,args= -p "$(IFS=,; echo "${leftovers[*]}")" >&2
kill -KILL "${leftovers[@]}" 2>/dev/null
echo "(killed)" >&2
exit 1
