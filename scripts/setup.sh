#!/usr/bin/env bash
# Installs what a fresh machine lacks for building, testing and running the
# demo. Every step checks first and skips what is already there, so running
# it again costs a second. Called by `make` targets and by `.ci/run`.
# Each step that does install prints how long it took ("setup: ... in N s").
set -euo pipefail
cd "$(dirname "$0")/.."

timed() { # timed LABEL CMD...: runs CMD, then prints LABEL's time
  local label=$1 start=$SECONDS
  shift
  "$@"
  echo "setup: $label in $((SECONDS - start)) s"
}

# Pinned tool versions (crates.io).
GECKODRIVER_VERSION=0.37.1
WASM_PACK_VERSION=0.15.1

sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
webkit_driver=/usr/bin/WebKitWebDriver

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
command -v brotli >/dev/null || need_apt+=(brotli)
command -v wrk >/dev/null || need_apt+=(wrk)
# The other two engines of the browser suite and the smoke test: Firefox ESR
# (driven by geckodriver, below) and WebKitGTK (its WebKitWebDriver and
# MiniBrowser; it needs a display, hence Xvfb).
command -v firefox-esr >/dev/null || need_apt+=(firefox-esr)
[ -x "$webkit_driver" ] || need_apt+=(webkit2gtk-driver)
{ command -v xvfb-run && command -v xauth; } >/dev/null || need_apt+=(xvfb xauth)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} (apt)"
  apt_install() {
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
  }
  timed "apt packages" apt_install
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "setup: adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt

# The CLI must match the wasm-bindgen crate in Cargo.lock exactly.
want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "setup: installing wasm-bindgen-cli $want (about 1.5 min)"
  # No --locked: one of its locked dependencies is not served by this registry.
  timed "wasm-bindgen-cli" cargo install wasm-bindgen-cli --version "=$want"
fi

# geckodriver: Firefox's WebDriver server, only published on crates.io here.
# --locked (here, unlike wasm-bindgen-cli, every locked dependency is served):
# the dependency versions its authors released it with.
if ! command -v geckodriver >/dev/null; then
  echo "setup: installing geckodriver $GECKODRIVER_VERSION (crates.io, about 1.5 min)"
  timed "geckodriver" cargo install geckodriver --version "=$GECKODRIVER_VERSION" --locked
fi

# wasm-pack, for docs/development.md's `wasm-pack test` (make wasm-pack-test). Its
# dev profile: it only drives cargo and the test runner, and builds in
# about 1 min on 2 cores instead of about 2.5 min optimised.
if ! command -v wasm-pack >/dev/null; then
  echo "setup: installing wasm-pack $WASM_PACK_VERSION (crates.io, about 1 min)"
  timed "wasm-pack" cargo install wasm-pack --version "=$WASM_PACK_VERSION" --locked --debug
fi

# Node tooling (binaryen's wasm-opt, playwright-core, typescript), pinned by package-lock.json.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# ---------------------------------------------------------------- test tools
# Test tools: only `make test` needs these (not `make demo` or `make pkg`).
# nginx runs in front of two token-server replicas in tests/e2e/nginx.test.mjs,
# as its own process with a temporary config; the distribution's service is
# not used (stopped where the package started it).
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "setup: installing nginx (apt, test tools)"
  install_nginx() {
    # Waits for another apt run to finish instead of failing on its lock.
    $sudo_cmd apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=300 \
      install -y -qq --no-install-recommends nginx >/dev/null
    if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
      $sudo_cmd systemctl disable --now nginx >/dev/null 2>&1 || true
    fi
  }
  timed "nginx" install_nginx
fi
