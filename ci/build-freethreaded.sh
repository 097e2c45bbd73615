#!/usr/bin/env bash
# Free-threaded CPython (3.13t, PEP 703) for CI: build it once from Debian trixie's source
# package into a cache outside the clone, then run the README's test command on it with the GIL
# disabled. Debian 12 ships no free-threaded interpreter and python.org is not reachable from
# CI, but Debian's source archive is, through the same mirror apt already uses.
#
# What runs on 3.13t: the test files in FT_TESTS below -- the runtime (patched locks, clocks,
# hangs, determinism of traces), the stress engine, the Backoffer, the gallery, the verdicts
# (real C locks, threads the code starts), linearizability, the pytest plugin and the threads
# the code under test starts (adopted into a round): the code whose behaviour a missing GIL can
# change -- and the README's main job (`harness hunt backoffer`). The rest of the suite
# (artifacts, replay, CLI parsing, reports, plain classes) does not touch the interpreter's threading and runs on 3.11 and 3.13; on 3.13t it would take
# the step past its share of the CI budget (the whole .ci/run must stay under 30 minutes).
#
#   ci/build-freethreaded.sh            build (or reuse) the interpreter, then test the project
#   ci/build-freethreaded.sh --build    build (or reuse) the interpreter only
#
# Cache: ${HARNESS_FT_CACHE:-/var/cache/harness-ft}; a complete build leaves
# $CACHE/python/bin/python3.13t and $CACHE/python/.complete, and is reused while both exist.
# When the source cannot be fetched the script prints one "skipped" line and exits 0: CI on a
# machine without Debian's archive still passes on the GIL builds it has.
# Extra pytest arguments: HARNESS_FT_PYTEST_ARGS (default empty); HARNESS_FT_TESTS replaces the
# list of test files ("tests" for the whole fast suite); set HARNESS_FT_SLOW=1 to run the tests
# marked slow as well (left out by default: about 3x the GIL builds' time, which the CI budget
# does not allow). HARNESS_FT_MIRROR overrides the Debian mirror taken from apt's own sources.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${HARNESS_FT_CACHE:-/var/cache/harness-ft}"
version_wanted="3.13"
prefix="$cache/python"
python="$prefix/bin/python${version_wanted}t"
mode="${1:-all}"
FT_TESTS="tests/test_runtime_blocking.py tests/test_runtime_determinism.py
  tests/test_runtime_hangs.py tests/test_runtime_interleaving.py tests/test_runtime_bad_input.py
  tests/test_stress.py tests/test_backoffer_hunt.py tests/test_backoffer_sequential.py
  tests/test_gallery.py tests/test_verdicts.py tests/test_linearizability.py
  tests/test_pytest_plugin.py tests/test_child_threads.py"

log() { echo "ft: $*"; }

skip() {
  log "skipped: $*"
  exit 0
}

debian_mirror() {
  # The first Debian (not -security) URI of the machine's own apt sources, deb822 or one-line.
  local uri=""
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    uri="$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources | tr ' ' '\n' | grep -E '^https?://' \
      | grep -v security | head -n 1 || true)"
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri="$(grep -E '^deb(-src)? ' /etc/apt/sources.list | tr ' ' '\n' | grep -E '^https?://' \
      | grep -v security | head -n 1 || true)"
  fi
  echo "$uri"
}

fetch_source() {
  # Downloads python3.13's orig tarball into $1 with a private apt state: the machine's own
  # sources and lists are left untouched.
  local dest="$1" mirror apt_dir
  command -v apt-get >/dev/null 2>&1 || skip "apt-get not found; cannot fetch Debian's CPython source"
  mirror="${HARNESS_FT_MIRROR:-$(debian_mirror)}"
  [ -n "$mirror" ] || skip "no Debian mirror in the apt sources; cannot fetch CPython's source"
  apt_dir="$dest/apt"
  mkdir -p "$apt_dir/lists/partial"
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  echo "deb-src [signed-by=$keyring] $mirror trixie main" >"$apt_dir/sources.list"
  local opts=(-o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$apt_dir/lists" -o "APT::Get::List-Cleanup=0")
  log "fetching the python${version_wanted} source package from Debian trixie ($mirror)"
  if ! timeout 600 apt-get "${opts[@]}" -qq update >"$apt_dir/update.log" 2>&1; then
    tail -n 5 "$apt_dir/update.log" >&2 || true
    skip "apt-get update for trixie's sources failed"
  fi
  if ! (cd "$dest" && timeout 900 apt-get "${opts[@]}" -qq source --download-only \
    "python${version_wanted}" >"$apt_dir/source.log" 2>&1); then
    tail -n 5 "$apt_dir/source.log" >&2 || true
    skip "could not download the python${version_wanted} source package"
  fi
  compgen -G "$dest/python${version_wanted}_*.orig.tar.xz" >/dev/null \
    || skip "the python${version_wanted} source package has no orig tarball"
}

build() {
  if [ -x "$python" ] && [ -f "$prefix/.complete" ]; then
    log "reusing $python ($("$python" -c 'import sys; print(sys.version.split()[0])'))"
    return
  fi
  mkdir -p "$cache" || skip "cannot create the cache directory $cache"
  local work="$cache/work"
  rm -rf "$work" "$prefix"
  mkdir -p "$work"
  fetch_source "$work"
  local tarball src started
  tarball="$(compgen -G "$work/python${version_wanted}_*.orig.tar.xz" | head -n 1)"
  log "unpacking $(basename "$tarball")"
  tar -xJf "$tarball" -C "$work"
  src="$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'Python-*' | head -n 1)"
  [ -n "$src" ] || { echo "ft: no Python-* directory in $tarball" >&2; exit 1; }
  started=$(date +%s)
  log "building CPython with --disable-gil into $prefix (about 5 minutes on 2 cores)"
  (
    cd "$src"
    ./configure --disable-gil --prefix="$prefix" --with-ensurepip=install >"$work/configure.log" 2>&1
    nice -n 10 make -j"$(nproc)" >"$work/make.log" 2>&1
    make install >"$work/install.log" 2>&1
  ) || {
    echo "ft: the build failed; last lines of the logs in $work:" >&2
    tail -n 20 "$work"/*.log >&2 || true
    exit 1
  }
  "$python" -c 'import sys; assert not sys._is_gil_enabled(), "GIL enabled"' || {
    echo "ft: $python was built but its GIL is enabled" >&2
    exit 1
  }
  touch "$prefix/.complete"
  rm -rf "$work"
  log "built $python in $(($(date +%s) - started)) s"
}

run_tests() {
  local venv status tests="${HARNESS_FT_TESTS:-$FT_TESTS}" started
  started=$(date +%s)
  venv="$(mktemp -d)/venv-3.13t"
  "$python" -m venv "$venv"
  # shellcheck disable=SC1091
  source "$venv/bin/activate"
  export PYTHON_GIL=0 CI="${CI:-true}" PIP_DISABLE_PIP_VERSION_CHECK=1
  # The constraint applies to 3.13t only: newer Hypothesis needs a compiled extension that has
  # no free-threaded wheel. Lint and types run on the GIL builds, so only what tests import.
  pip install -q -c "$here/ci/constraints-3.13t.txt" -e "$here[test-deps]"
  python -c 'import sys; assert not sys._is_gil_enabled(); print("ft: GIL disabled:", sys.version)'
  cd "$here"
  log "tests on 3.13t: $(echo $tests)"
  # shellcheck disable=SC2086
  pytest -n auto --durations=10 ${HARNESS_FT_PYTEST_ARGS:-} $tests
  if [ "${HARNESS_FT_SLOW:-0}" = 1 ]; then
    # shellcheck disable=SC2086
    pytest -n auto -m slow --durations=10 ${HARNESS_FT_PYTEST_ARGS:-} $tests
  fi
  set +e
  harness hunt backoffer --json >"$(dirname "$venv")/hunt.json"
  status=$?
  set -e
  echo "ft: harness hunt backoffer exited $status"
  [ "$status" = 1 ] || { echo "ft: expected exit 1 (counterexample found)" >&2; exit 1; }
  log "venv, install, tests and main job on 3.13t took $(($(date +%s) - started)) s"
  deactivate
  rm -rf "$(dirname "$venv")"
}

build
[ "$mode" = "--build" ] && exit 0
run_tests
