#!/usr/bin/env bash
# Runs every test: installs what is needed, builds, runs the three vitest tiers one
# after the other (unit, integration with real peers in network namespaces, end to end
# with QEMU), and ends with the plain line "N passed, N failed" totalled over the tiers
# (CI reads it; the exit status is non-zero if anything failed).
#   TIERS="unit integration" bash scripts/test.sh   # only some tiers
#   bash scripts/test.sh test/config                # extra arguments go to every tier
#   LINT=0 bash scripts/test.sh                     # without the lint and format check
# Run as root, the unit tier runs as the unprivileged user `nobody`: a unit test that
# quietly needs root would otherwise only be found on a laptop.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh || exit 1
npm run build --silent || exit 1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

# The house style is checked like a test: ESLint with type information (zero warnings)
# and Prettier. A failure counts as one failed test in the closing line. LINT=0 skips it.
lint_failed=0
if [ "${LINT:-1}" != 0 ]; then
  echo "=== lint and format"
  npm run --silent lint || lint_failed=1
  npm run --silent format:check || lint_failed=1
fi

# The command prefix that runs the unit tier without root, or nothing when we are not
# root (or nobody cannot read the checkout: then say so and run it as we are).
unprivileged() {
  [ "$(id -u)" = 0 ] || return 0
  if command -v runuser >/dev/null && runuser -u nobody -- test -r package.json -a -r node_modules/.bin/vitest; then
    chown nobody "$work"
    echo runuser -u nobody -- env HOME="$work" TMPDIR="$work"
  else
    echo "note: the unit tier runs as root (user nobody cannot read $(pwd))" >&2
  fi
}

# run_tier NAME [PREFIX...]: one vitest project, its JSON results in $work/NAME.json.
run_tier() {
  local name=$1
  shift
  echo "=== $name tests${1:+ (as nobody)}"
  # --configLoader runner and --no-cache: vitest writes nothing into the checkout, so an
  # unprivileged user can run it from a tree owned by root.
  "$@" node_modules/.bin/vitest run --project "$name" --configLoader runner --no-cache --passWithNoTests \
    --reporter=default --reporter=json --outputFile.json="$work/$name.json" "${args[@]}" || status=1
}

args=("$@")
for tier in ${TIERS:-unit integration e2e}; do
  if [ "$tier" = unit ]; then
    read -ra prefix <<<"$(unprivileged)"
    run_tier unit "${prefix[@]}"
  else
    run_tier "$tier"
  fi
done

WORK="$work" LINT_FAILED="$lint_failed" node -e '
  const fs = require("fs");
  let passed = 0, failed = Number(process.env.LINT_FAILED), skipped = 0;
  for (const tier of process.argv.slice(1)) {
    const file = `${process.env.WORK}/${tier}.json`;
    if (!fs.existsSync(file)) { console.error(`${tier}: no results (vitest did not finish)`); failed++; continue; }
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests;
    // A file that fails to load fails no test: count it, so the line says something failed.
    if (!r.success && r.numFailedTests === 0) failed += Math.max(1, r.numFailedTestSuites || 0);
    skipped += (r.numPendingTests || 0) + (r.numTodoTests || 0);
  }
  console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
  process.exit(failed ? 1 : 0);
' ${TIERS:-unit integration e2e} || status=1
exit $status
