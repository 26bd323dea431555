#!/usr/bin/env bash
# The wasm-bindgen browser suite (every tests/browser_*.rs) in one or more
# engines, one after the other, against one test server
# (tests/server/test-server.mjs) started here for the whole run.
#
#   scripts/browser-suite.sh LEG...      (make browser-test runs all three)
#
# LEG:
#   chromium           cargo test, CHROMEDRIVER=chromedriver (Debian's Chromium,
#                      with the flags of webdriver.json)
#   firefox            cargo test, GECKODRIVER=geckodriver (Firefox ESR)
#   webkit             cargo test, SAFARIDRIVER=WebKitWebDriver under xvfb-run
#                      (WebKitGTK's MiniBrowser; the runner's Safari path)
#   chromium-wasm-pack wasm-pack test --headless --chrome (docs/development.md's command)
#   firefox-wasm-pack  wasm-pack test --headless --firefox
#
# Every leg runs even when another one failed, and every test file of a leg
# runs even when another one failed (--no-fail-fast); each leg ends with a
# line "browser suite: LEG passed (N tests, T s)" or "browser suite: LEG
# FAILED", and the script fails when any leg did. Logs: target/browser-LEG.log;
# what failed, in short, also in target/failure-summary.txt (make test prints
# it last).
#
# A test file whose run never reached its result line (the runner could not
# start the browser or its driver, or the file's page never loaded: see
# scripts/capped-test-runner.sh) is run again on its own after the legs, up
# to twice, and the summary says so: a file that fails an assertion is never
# run again.
set -euo pipefail
cd "$(dirname "$0")/.."

TEST_PORT=${TEST_PORT:-8787}
export CHATHUB_TEST_SERVER=http://127.0.0.1:$TEST_PORT
WASM_TARGET=wasm32-unknown-unknown
[ $# -gt 0 ] || set -- chromium firefox webkit
mkdir -p target

# Each test file's run has a hard cap (scripts/capped-test-runner.sh): the
# runner itself can wait forever on a page that never loads.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=$PWD/scripts/capped-test-runner.sh

# The runner picks the first driver named in the environment (gecko,
# safari, chrome): each leg sets exactly its own.
unset CHROMEDRIVER GECKODRIVER SAFARIDRIVER CHROMEDRIVER_REMOTE GECKODRIVER_REMOTE SAFARIDRIVER_REMOTE

version() {
  case $1 in
    chromium*) chromium --version 2>/dev/null | awk '{print "Chromium " $2}' ;;
    firefox*) firefox-esr --version 2>/dev/null | sed 's/^Mozilla //' ;;
    webkit) echo "WebKitGTK $(dpkg-query -W -f='${Version}' libwebkit2gtk-4.1-0 2>/dev/null | sed 's/-.*//')" ;;
  esac
}

run_leg() {
  case $1 in
    chromium-wasm-pack) wasm-pack test --headless --chrome --chromedriver "$(command -v chromedriver)" ;;
    firefox-wasm-pack) wasm-pack test --headless --firefox --geckodriver "$(command -v geckodriver)" ;;
    *) run_cargo "$@" ;;
  esac
}

# run_cargo LEG [--test NAME...]: the leg's test files through cargo test.
run_cargo() {
  local leg=$1
  shift
  case $leg in
    chromium) CHROMEDRIVER=$(command -v chromedriver) cargo test -p chathub-loader --target $WASM_TARGET --no-fail-fast "$@" ;;
    firefox) GECKODRIVER=$(command -v geckodriver) cargo test -p chathub-loader --target $WASM_TARGET --no-fail-fast "$@" ;;
    webkit)
      # MiniBrowser needs a display: a private Xvfb for this run.
      SAFARIDRIVER=/usr/bin/WebKitWebDriver xvfb-run -a -s "-screen 0 1280x1024x24" \
        cargo test -p chathub-loader --target $WASM_TARGET --no-fail-fast "$@" ;;
    *) echo "browser suite: unknown leg $leg (chromium, firefox, webkit, chromium-wasm-pack, firefox-wasm-pack)" >&2; return 2 ;;
  esac
}

# unfinished LOG: the test files (their --test names) whose run in LOG
# printed no result line.
unfinished() {
  awk '
    /^     Running tests\// { if (name != "" && !done) print name; name = $2; sub(/^tests\//, "", name); sub(/\.rs$/, "", name); done = 0; next }
    /^ +(Running|Doc-tests) / { if (name != "" && !done) print name; name = ""; done = 0; next }
    /test result: / { done = 1 }
    END { if (name != "" && !done) print name }
  ' "$1"
}

# failed_files LOG: the test files cargo named as failed.
failed_files() {
  { grep -o 'to rerun pass `[^`]*`' "$1" || true; } | grep -o -- '--test [a-z_0-9]*' | awk '{print $2}' | sort -u
}

# The test server, once for every leg of this run.
node tests/server/test-server.mjs "$TEST_PORT" > target/test-server.log 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "^test server on" target/test-server.log && break
  if ! kill -0 $server_pid 2>/dev/null; then
    echo "browser suite: the test server could not start on port $TEST_PORT (in use? set TEST_PORT):" >&2
    cat target/test-server.log >&2
    exit 1
  fi
  sleep 0.1
done
grep -q "^test server on" target/test-server.log || { echo "browser suite: the test server did not start" >&2; exit 1; }

# The test builds once, before the legs: they then run side by side (each
# engine mostly waits on timers and the network, not on the CPU), which
# takes about the time of the slowest leg instead of the sum.
# BROWSER_SUITE_SERIAL=1 runs them one after the other instead.
echo "=== browser suite: building the tests ==="
cargo test -p chathub-loader --target $WASM_TARGET --no-run 2>&1 | tail -3

leg_run() {
  local leg=$1 start=$SECONDS status=0
  { echo "=== browser suite: $leg ($(version "$leg")) ==="; run_leg "$leg" 2>&1; } > "target/browser-$leg.log" || status=$?
  echo "$status $((SECONDS - start))" > "target/browser-$leg.status"
}

pids=()
for leg in "$@"; do
  rm -f "target/browser-$leg.status" "target/browser-$leg-retry"*.log
  if [ "${BROWSER_SUITE_SERIAL:-}" = 1 ]; then
    leg_run "$leg"
    cat "target/browser-$leg.log"
  else
    leg_run "$leg" &
    pids+=($!)
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || true; done

failed=()
summary=()
: > target/failure-summary.txt
for leg in "$@"; do
  [ "${BROWSER_SUITE_SERIAL:-}" = 1 ] || cat "target/browser-$leg.log"
  read -r status took < "target/browser-$leg.status" || { status=1; took=0; }
  log=target/browser-$leg.log
  retried=""
  # A leg whose only failures are test files that never reached their
  # result line: those files again, on their own (twice at most).
  if [ "$status" -ne 0 ] && [ "$leg" = "${leg%-wasm-pack}" ]; then
    last=$log
    for attempt in 2 3; do
      mapfile -t bad < <(failed_files "$last")
      mapfile -t stuck < <(unfinished "$last")
      [ ${#bad[@]} -gt 0 ] && [ "$(printf '%s\n' "${bad[@]}" | sort)" = "$(printf '%s\n' "${stuck[@]}" | sort)" ] || break
      args=()
      for f in "${bad[@]}"; do args+=(--test "$f"); done
      echo "=== browser suite: $leg: ${bad[*]} never finished; run $attempt, on their own ==="
      start=$SECONDS
      last=target/browser-$leg-retry$attempt.log
      status=0
      run_cargo "$leg" "${args[@]}" > "$last" 2>&1 || status=$?
      cat "$last"
      took=$((took + SECONDS - start))
      retried="$retried (${bad[*]}: run $attempt after a run that never finished)"
      [ "$status" -ne 0 ] || break
    done
  fi
  # (A leg that did not get as far as a test result counts 0.)
  logs=("$log")
  for f in target/browser-$leg-retry2.log target/browser-$leg-retry3.log; do [ ! -f "$f" ] || logs+=("$f"); done
  passed=$(cat "${logs[@]}" | grep -o 'test result: ok\. [0-9]* passed' | awk '{s += $4} END {print s + 0}' || true)
  if [ "$status" -eq 0 ] && [ "$passed" -gt 0 ]; then
    summary+=("browser suite: $leg passed ($passed tests, $took s, $(version "$leg"))$retried")
  else
    summary+=("browser suite: $leg FAILED (see $log; $passed tests passed, $took s)")
    failed+=("$leg")
    {
      echo "browser suite: $leg FAILED ($(version "$leg")); what failed (from $log):"
      cat "${logs[@]}" \
        | grep -E -A1 'FAILED|panicked at|Failed to detect|failed to|error|timed out' \
        | grep -v -E 'test result: ok|^--$' | tail -n 30 | sed 's/^/  /' || true
    } >> target/failure-summary.txt
  fi
  rm -f "target/browser-$leg-retry2.log" "target/browser-$leg-retry3.log"
done

echo
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  cat target/failure-summary.txt
  echo "browser suite FAILED in: ${failed[*]}"
  exit 1
fi
