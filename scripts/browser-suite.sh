#!/usr/bin/env bash
# The wasm-bindgen browser suite (every tests/browser_*.rs) in one or more
# engines, one after the other, against one test server
# (tests/server/test-server.mjs) started here for the whole run.
#
#   scripts/browser-suite.sh LEG...      (make browser-test runs all three)
#
# LEG:
#   chromium           wasm-pack test --headless --chrome (docs/development.md's command;
#                      Debian's chromedriver, found on PATH)
#   firefox            cargo test, GECKODRIVER=geckodriver (Firefox ESR)
#   webkit             cargo test, SAFARIDRIVER=WebKitWebDriver under xvfb-run
#                      (WebKitGTK's MiniBrowser; the runner's Safari path)
#   firefox-wasm-pack  wasm-pack test --headless --firefox
#
# Every leg runs even when another one failed; each ends with a line
# "browser suite: LEG passed (N tests, T s)" or "browser suite: LEG FAILED",
# and the script fails when any leg did. Logs: target/browser-LEG.log.
set -euo pipefail
cd "$(dirname "$0")/.."

TEST_PORT=${TEST_PORT:-8787}
export CHATHUB_TEST_SERVER=http://127.0.0.1:$TEST_PORT
WASM_TARGET=wasm32-unknown-unknown
[ $# -gt 0 ] || set -- chromium firefox webkit
mkdir -p target

# The runner picks the first driver named in the environment (gecko,
# safari, chrome): each leg sets exactly its own.
unset CHROMEDRIVER GECKODRIVER SAFARIDRIVER CHROMEDRIVER_REMOTE GECKODRIVER_REMOTE SAFARIDRIVER_REMOTE

version() {
  case $1 in
    chromium) chromium --version 2>/dev/null | awk '{print "Chromium " $2}' ;;
    firefox*) firefox-esr --version 2>/dev/null | sed 's/^Mozilla //' ;;
    webkit) echo "WebKitGTK $(dpkg-query -W -f='${Version}' libwebkit2gtk-4.1-0 2>/dev/null | sed 's/-.*//')" ;;
  esac
}

run_leg() {
  case $1 in
    chromium) wasm-pack test --headless --chrome ;;
    firefox-wasm-pack) wasm-pack test --headless --firefox ;;
    firefox) GECKODRIVER=$(command -v geckodriver) cargo test -p chathub-loader --target $WASM_TARGET --no-fail-fast ;;
    webkit)
      # MiniBrowser needs a display: a private Xvfb for this run.
      SAFARIDRIVER=/usr/bin/WebKitWebDriver xvfb-run -a -s "-screen 0 1280x1024x24" \
        cargo test -p chathub-loader --target $WASM_TARGET --no-fail-fast ;;
    *) echo "browser suite: unknown leg $1 (chromium, firefox, webkit, firefox-wasm-pack)" >&2; return 2 ;;
  esac
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
  rm -f "target/browser-$leg.status"
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
for leg in "$@"; do
  [ "${BROWSER_SUITE_SERIAL:-}" = 1 ] || cat "target/browser-$leg.log"
  read -r status took < "target/browser-$leg.status" || { status=1; took=0; }
  # (A leg that did not get as far as a test result counts 0.)
  passed=$(grep -o 'test result: [a-zA-Z]*\. [0-9]* passed' "target/browser-$leg.log" | awk '{s += $4} END {print s + 0}' || true)
  if [ "$status" -eq 0 ] && [ "$passed" -gt 0 ]; then
    summary+=("browser suite: $leg passed ($passed tests, $took s, $(version "$leg"))")
  else
    summary+=("browser suite: $leg FAILED (see target/browser-$leg.log; $passed tests passed, $took s)")
    failed+=("$leg")
  fi
done

echo
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "browser suite FAILED in: ${failed[*]}"
  exit 1
fi
