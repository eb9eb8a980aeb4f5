# The one assertion of the shell suites (Tests/concurrency/*.sh, Tests/reliability/*.sh),
# sourced by them; the caller sets passed=0 and failed=0.
#   check DESCRIPTION ACTUAL EXPECTED   one "ok N - ..." or "not ok N - ..." line
check() {
  if [ "$2" = "$3" ]; then
    passed=$((passed + 1)); echo "ok $((passed + failed)) - $1"
  else
    failed=$((failed + 1)); echo "not ok $((passed + failed)) - $1"; echo "#   got: '$2'"; echo "#   expected: '$3'"
  fi
}
