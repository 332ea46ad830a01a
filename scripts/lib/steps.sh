# The step runner shared by scripts/test-all.sh and scripts/reliability.sh (sourced).
#
#   steps_init <title> [step...]   the steps named on the command line run (none: all)
#   step <name> <command...>       runs the command if the step is selected: prints a banner,
#                                  times it, records ok/FAIL
#   need <command> <install hint>  in a step: fails it (returns 1) with the hint when the
#                                  command is missing
#   steps_finish                   prints the summary; returns 1 if a step failed, 2 if a
#                                  step name on the command line matched no step
# Every step runs, whatever the others did; the summary lists each with its time.

STEPS_TITLE=
STEPS_ONLY=()
STEPS_RESULTS=()
STEPS_FAILED=0
STEPS_SEEN=" "
STEPS_T0=$SECONDS

steps_init() {
  STEPS_TITLE=$1
  shift
  STEPS_ONLY=("$@")
}

step_selected() {
  ((${#STEPS_ONLY[@]} == 0)) && return 0
  local s
  for s in "${STEPS_ONLY[@]}"; do
    [[ $s == "$1" ]] && return 0
  done
  return 1
}

step() {
  local name=$1
  shift
  STEPS_SEEN+="$name "
  step_selected "$name" || return 0
  echo
  echo "==================== $STEPS_TITLE: $name"
  local t0=$SECONDS
  if "$@"; then
    STEPS_RESULTS+=("ok    $name ($((SECONDS - t0)) s)")
  else
    STEPS_RESULTS+=("FAIL  $name ($((SECONDS - t0)) s)")
    STEPS_FAILED=$((STEPS_FAILED + 1))
  fi
  return 0
}

need() {
  local cmd=$1
  shift
  command -v "$cmd" >/dev/null 2>&1 && return 0
  echo "$STEPS_TITLE: '$cmd' is not installed: $*" >&2
  return 1
}

steps_finish() {
  local s unknown=0
  for s in "${STEPS_ONLY[@]+"${STEPS_ONLY[@]}"}"; do
    if [[ $STEPS_SEEN != *" $s "* ]]; then
      echo "$STEPS_TITLE: no step named '$s' (steps:$STEPS_SEEN)" >&2
      unknown=1
    fi
  done
  echo
  echo "==================== $STEPS_TITLE: summary ($((SECONDS - STEPS_T0)) s)"
  ((${#STEPS_RESULTS[@]})) && printf '%s\n' "${STEPS_RESULTS[@]}"
  echo "$STEPS_TITLE: $((${#STEPS_RESULTS[@]} - STEPS_FAILED)) passed, $STEPS_FAILED failed"
  ((STEPS_FAILED > 0)) && return 1
  ((unknown)) && return 2
  return 0
}
