#!/usr/bin/env bash
# `npm test` after typecheck and lint: set up the real components the tests use (Debian packages,
# the local SLURM cluster) where this machine allows it, then run every test once.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${CORRAL_SKIP_SETUP:-0}" != 1 ]; then
  # Idempotent and quick when everything is already installed and running.
  bash scripts/ci-setup.sh || echo "test: set-up failed (see above); tests that need SLURM, ch-run or chromium say they were skipped and why" >&2
fi

mkdir -p test-results
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json "$@" || status=$?
# One plain closing line that any CI log reader understands.
node -e '
const r = JSON.parse(require("fs").readFileSync("test-results/vitest.json", "utf8"));
const skipped = r.numPendingTests + (r.numTodoTests ?? 0);
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' || true
exit $status
