#!/usr/bin/env bash
# Run bench_runtime.py under every pyenv CPython this machine has (3.11.7, 3.12.1, 3.13.0),
# writing bench/results/runtime-<version>.json. Extra arguments go to every run, e.g.
#   bash bench/run_all.sh --seconds 0.3
# The runtime needs no third-party package, so interpreters without hypothesis work too.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
results="$here/results"
mkdir -p "$results"
status=0
ran=0
for version in 3.11.7 3.12.1 3.13.0; do
    python="/root/.pyenv/versions/$version/bin/python"
    if [ ! -x "$python" ]; then
        echo "== Python $version: not installed ($python), skipped"
        continue
    fi
    echo "== Python $version"
    ran=$((ran + 1))
    (cd "$root" && PYTHONPATH="$root" "$python" bench/bench_runtime.py \
        --json "$results/runtime-$version.json" "$@") || {
        echo "!! Python $version: bench_runtime.py exited with status $?"
        status=1
    }
    echo
done
if [ "$ran" -eq 0 ]; then
    echo "no interpreter found" >&2
    exit 1
fi
exit "$status"
