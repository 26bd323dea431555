#!/usr/bin/env bash
# The browser suite's test runner: wasm-bindgen-test-runner for one test
# file, stopped
#   - after BROWSER_SUITE_START_LIMIT s (120) if its page has not started:
#     nothing printed after the runner's WebDriver session opened (the
#     runner prints the page's output as it polls it: "Loading scripts...",
#     "Loading Wasm module...", "running N tests");
#   - after WASM_BINDGEN_TEST_TIMEOUT + 120 s whatever it is doing.
#
# Why: the runner can wait forever. Its page server (rouille on tiny_http
# 0.12) sometimes leaves a new connection unread while earlier keep-alive
# connections hold its threads (seen in Chromium and Firefox, on a loaded
# and on a quiet 2-core machine, most often on a page that imports more JS
# snippet modules: the page stays at "Loading scripts...", the connection
# in CLOSE-WAIT with the request unread), and its WebDriver calls then
# wait with no deadline: the
# navigation never returns, so nothing is printed. A page that loads
# prints within seconds, so the start limit stops a stalled run early.
# scripts/browser-suite.sh runs such a file (no result line) once more.
set -uo pipefail
limit=$(( ${WASM_BINDGEN_TEST_TIMEOUT:-240} + 120 ))
start_limit=${BROWSER_SUITE_START_LIMIT:-120}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# timeout puts the runner, its driver and the browser in a process group of
# their own, and passes a TERM it gets on to the whole group.
timeout --kill-after=10 "$limit" wasm-bindgen-test-runner "$@" >"$out" 2>&1 &
runner=$!

# Prints the output as it comes (cargo shows it live), and watches for the start.
shown=0
started=0
stalled=0
waited=0
show() {
  local n
  n=$(wc -l <"$out")
  if [ "$n" -gt "$shown" ]; then
    sed -n "$((shown + 1)),${n}p" "$out"
    shown=$n
  fi
}
while kill -0 "$runner" 2>/dev/null; do
  show
  if [ "$started" -eq 0 ]; then
    # The lines the runner itself prints before the page's output.
    if sed -e '/^Set WASM_BINDGEN_/d' -e '/^Running headless tests/d' \
      -e '/^Try find .webdriver.json/d' -e '/^Ok$/d' -e '/^[[:space:]]*$/d' "$out" | grep -q .; then
      started=1
    elif [ "$waited" -ge "$start_limit" ]; then
      stalled=1
      kill -TERM "$runner" 2>/dev/null
      break
    fi
  fi
  sleep 1
  waited=$((waited + 1))
done
wait "$runner"
status=$?
# The rest (also of a run that was stopped), an unterminated last line too.
tail -n +"$((shown + 1))" "$out"
if [ -s "$out" ] && [ -n "$(tail -c 1 "$out")" ]; then echo; fi
if [ "$stalled" -eq 1 ]; then
  echo "capped-test-runner: stopped after $start_limit s: the test page never started (nothing printed; no result line)"
  exit 124
fi
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "capped-test-runner: stopped after $limit s: the runner never finished this test file (no result line)"
fi
exit "$status"
