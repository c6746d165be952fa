#!/usr/bin/env bash
# What CI needs on a fresh Debian 12 machine: the packages the tests use for real (SLURM, munge,
# Charliecloud, busybox image, GNU parallel, graphviz, headless Chromium, the peers Snakemake and
# Optuna that some tests compare against), then the local SLURM
# test cluster. Without root it says why and goes on: the SLURM/container tests then skip.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(slurm-wlm munge charliecloud-runtime busybox-static parallel graphviz chromium python3 python3-yaml procps util-linux strace snakemake python3-optuna)

if [ "$(id -u)" != 0 ]; then
  echo "ci-setup: not root (uid $(id -u)): cannot apt-get install or start slurmctld/slurmd;" >&2
  echo "ci-setup: continuing without them - the SLURM integration tests skip unless a cluster already runs." >&2
  # A cluster started earlier by root still serves an unprivileged user.
  scripts/slurm-cluster.sh start 2>/dev/null || true
  exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
  # dpkg -s is instant; apt-get on an already installed set still costs seconds.
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "ci-setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "ci-setup: all packages already installed" >&2
fi

if out=$(scripts/slurm-cluster.sh start); then
  echo "$out"
else
  echo "ci-setup: the SLURM test cluster did not start (see above); SLURM tests will be skipped." >&2
fi
