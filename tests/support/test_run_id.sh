# Sourced by the test scripts that start processes (clients/testing/start_stack.sh, tests/helm/run.sh) and by the
# suite's cleanup check. Defines portrait_test_run_id, which prints the id of this run of the test suite exactly as
# TestRunId() in tests/support/subprocess.cc computes it: $PORTRAIT_TEST_SUITE_RUN when set; else
# "ctest-<pid>-<start time>" of the nearest ctest ancestor (one ctest invocation is one run, and two concurrent
# runs differ); else "pid-<pid>-<start time>" of this shell. Start times are /proc/<pid>/stat's field 22.
# Scripts export PORTRAIT_TEST_SUITE_RUN="$(portrait_test_run_id)" before starting anything, so that every process
# they start carries the marker in its environment.

# The fields of /proc/$1/stat after the command name, into the array _run_id_fields: [1] is the parent's pid,
# [19] the start time. Fails if the process is gone.
_portrait_stat_fields() {
  local stat
  { stat=$(<"/proc/$1/stat"); } 2>/dev/null || return 1
  read -r -a _run_id_fields <<<"${stat##*) }"
  [ "${#_run_id_fields[@]}" -ge 20 ]
}

portrait_test_run_id() {
  if [ -n "${PORTRAIT_TEST_SUITE_RUN:-}" ]; then
    printf '%s\n' "$PORTRAIT_TEST_SUITE_RUN"
    return
  fi
  local pid=$$ comm
  while [ "$pid" -gt 1 ] && _portrait_stat_fields "$pid"; do
    { comm=$(<"/proc/$pid/comm"); } 2>/dev/null || break
    if [ "$comm" = ctest ]; then
      printf 'ctest-%s-%s\n' "$pid" "${_run_id_fields[19]}"
      return
    fi
    pid=${_run_id_fields[1]}
  done
  _portrait_stat_fields $$ || _run_id_fields=()
  printf 'pid-%s-%s\n' $$ "${_run_id_fields[19]:-0}"
}
