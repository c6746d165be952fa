#!/usr/bin/env bash
# Peers for `npm run bench`: Debian's snakemake and GNU parallel (installed when missing and
# root), and the local SLURM cluster. Never fatal: a missing peer is reported in RESULTS.md.
set -uo pipefail
cd "$(dirname "$0")/.."
missing=()
for p in snakemake parallel time; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "bench-setup: installing ${missing[*]} (snakemake takes about 100 s)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
  else
    echo "bench-setup: not root; missing peers: ${missing[*]}" >&2
  fi
fi
scripts/slurm-cluster.sh start >/dev/null 2>&1 || echo "bench-setup: no SLURM cluster; the SLURM section will be skipped" >&2
exit 0
