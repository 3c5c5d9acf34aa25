#!/usr/bin/env bash
# Runs every test: installs what is needed, builds, runs vitest (unit, integration
# with real peers in network namespaces, end to end), and ends with the plain line
# "N passed, N failed" that CI reads.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh || exit 1
npm run build --silent || exit 1
results=$(mktemp --suffix=.json)
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@"
status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = (r.numPendingTests || 0) + (r.numTodoTests || 0);
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$results" || { echo "0 passed, 1 failed"; status=1; }
rm -f "$results"
exit $status
