#!/usr/bin/env bash
# The browser suite's test runner: wasm-bindgen-test-runner for one test
# file, stopped after WASM_BINDGEN_TEST_TIMEOUT + 120 s whatever it is doing.
#
# Why: the runner can wait forever. Its page server (rouille on tiny_http
# 0.12) sometimes leaves a new connection unread while earlier keep-alive
# connections hold its threads (seen in Chromium on a loaded 2-core machine:
# the page stays at "Loading scripts...", the connection in CLOSE-WAIT with
# the request unread), and its WebDriver calls then wait with no deadline.
# scripts/browser-suite.sh runs such a file (no result line) once more.
set -uo pipefail
limit=$(( ${WASM_BINDGEN_TEST_TIMEOUT:-240} + 120 ))
# timeout puts the runner, its driver and the browser in a process group of
# their own and stops the whole group.
timeout --kill-after=10 "$limit" wasm-bindgen-test-runner "$@"
status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "capped-test-runner: stopped after $limit s: the runner never finished this test file (no result line)"
fi
exit "$status"
