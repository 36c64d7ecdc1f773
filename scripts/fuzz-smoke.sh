#!/usr/bin/env bash
# Runs each Go fuzz target in the module for FUZZTIME (default 5s).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-5s}
status=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  for name in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
    echo "fuzz-smoke: ./$dir $name ($fuzztime)"
    if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "./$dir" >/tmp/fuzz-smoke.$$.log 2>&1; then
      cat /tmp/fuzz-smoke.$$.log; status=1
    fi
  done
done < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' 2>/dev/null | sort)
rm -f /tmp/fuzz-smoke.$$.log
exit $status
