#!/usr/bin/env bash
# `npm test` after typecheck and lint: set up the real components the tests use (Debian packages,
# the local SLURM cluster) where this machine allows it, then run every test once.
#
# Two phases: everything that shares the cluster politely runs in parallel; the tests that stop
# slurmctld, kill nodes or switch to the multi-node cluster (faults*, multinode*, *.serial.test.ts)
# run afterwards, one file at a time, so they never pull the cluster from under another test.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${CORRAL_SKIP_SETUP:-0}" != 1 ]; then
  # Idempotent and quick when everything is already installed and running.
  bash scripts/ci-setup.sh || echo "test: set-up failed (see above); tests that need SLURM, ch-run or chromium say they were skipped and why" >&2
fi

mkdir -p test-results
rm -f test-results/vitest-*.json
SERIAL=(test/e2e/faults test/integration/multinode serial.test)
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest-1.json \
  --exclude 'test/e2e/faults*' --exclude 'test/integration/multinode*' --exclude '**/*.serial.test.ts' --exclude 'node_modules/**' "$@" || status=$?
if [ $# -eq 0 ]; then
  npx vitest run --no-file-parallelism --passWithNoTests --reporter=default --reporter=json --outputFile.json=test-results/vitest-2.json "${SERIAL[@]}" || status=$?
fi
# One plain closing line that any CI log reader understands.
node -e '
const fs = require("fs");
let p = 0, f = 0, s = 0;
for (const file of fs.readdirSync("test-results").filter((x) => /^vitest-\d\.json$/.test(x))) {
  const r = JSON.parse(fs.readFileSync("test-results/" + file, "utf8"));
  p += r.numPassedTests; f += r.numFailedTests; s += r.numPendingTests + (r.numTodoTests ?? 0);
}
console.log(`tests: ${p} passed, ${f} failed, ${s} skipped`);
' || true
exit $status
