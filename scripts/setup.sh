#!/usr/bin/env bash
# Installs what a fresh machine lacks, by level, so that each make target
# installs only what it needs:
#
#   scripts/setup.sh build   make pkg, make demo: the wasm32 Rust target, the
#                            pinned wasm-bindgen-cli, the npm tools (npm ci:
#                            binaryen's wasm-opt, esbuild, typescript;
#                            playwright-core is JavaScript only, no browser)
#   scripts/setup.sh test    make test, .ci/run (the default): build, plus
#                            rustfmt and clippy, Chromium and chromedriver,
#                            Firefox ESR and geckodriver, WebKitGTK's driver,
#                            Xvfb, wasm-pack, nginx
#   scripts/setup.sh bench   make bench: build, plus Chromium and wrk
#
# Levels combine (`scripts/setup.sh test bench`). `--dry-run` installs
# nothing: it lists every item of the levels as there or to install, with
# about how long an install takes on 2 cores (the times measured on this
# project's machines; see docs/development.md "Tests").
#
# Every step checks first and skips what is already there, so running it
# again costs a second. Each step that does install prints how long it took
# ("setup: ... in N s").
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }

dry=0
levels=()
for arg in "$@"; do
  case $arg in
    --dry-run | -n) dry=1 ;;
    build | test | bench) levels+=("$arg") ;;
    -h | --help) usage; exit 0 ;;
    *) echo "setup: unknown argument $arg (levels: build, test, bench; --dry-run)" >&2; exit 2 ;;
  esac
done
[ ${#levels[@]} -gt 0 ] || levels=(test)
level() { [[ " ${levels[*]} " == *" $1 "* ]]; }
[ $dry = 0 ] || echo "setup: ${levels[*]} (dry run: nothing is installed)"

timed() { # timed LABEL CMD...: runs CMD, then prints LABEL's time
  local label=$1 start=$SECONDS
  shift
  "$@"
  echo "setup: $label in $((SECONDS - start)) s"
}

# missing NAME ABOUT CHECK...: true when NAME must be installed (CHECK
# fails) and this is no dry run; a dry run says "there" or "install
# (ABOUT)" and is never true.
missing() {
  local name=$1 about=$2
  shift 2
  if "$@" >/dev/null 2>&1; then
    [ $dry = 0 ] || echo "setup:   there    $name"
    return 1
  fi
  [ $dry = 0 ] || { echo "setup:   install  $name ($about)"; return 1; }
}

# Pinned tool versions (crates.io).
GECKODRIVER_VERSION=0.37.1
WASM_PACK_VERSION=0.15.1

sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
webkit_driver=/usr/bin/WebKitWebDriver

# ------------------------------------------------------------------- build
# Every level builds the package first.
has_wasm_target() { rustup target list --installed | grep -qx wasm32-unknown-unknown; }
if missing "rust target wasm32-unknown-unknown (rustup)" "a few seconds" has_wasm_target; then
  echo "setup: adding rust target wasm32-unknown-unknown"
  timed "wasm32 target" rustup target add wasm32-unknown-unknown
fi

# The CLI must match the wasm-bindgen crate in Cargo.lock exactly.
want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if missing "wasm-bindgen-cli $want (cargo install)" "about 90 s" test "$have" = "$want"; then
  echo "setup: installing wasm-bindgen-cli $want (about 1.5 min)"
  # No --locked: one of its locked dependencies is not served by this registry.
  timed "wasm-bindgen-cli" cargo install wasm-bindgen-cli --version "=$want"
fi

# Node tooling (binaryen's wasm-opt, esbuild, typescript, playwright-core),
# pinned by package-lock.json.
npm_current() { [ -d node_modules ] && [ ! package-lock.json -nt node_modules/.package-lock.json ]; }
if missing "npm tools (npm ci: binaryen, esbuild, typescript, playwright-core, react, vue)" "about 20 s with an empty npm cache" npm_current; then
  echo "setup: npm ci"
  timed "npm ci" npm ci --no-audit --no-fund --loglevel=error
fi

# ----------------------------------------------------------- test and bench
need_apt=()
apt_missing() { # apt_missing PACKAGE ABOUT CHECK...: queues PACKAGE when CHECK fails
  local pkg=$1 about=$2
  shift 2
  if missing "$pkg (apt)" "$about" "$@"; then need_apt+=("$pkg"); fi
}
if level test || level bench; then
  # Playwright drives Debian's Chromium (no browser download).
  apt_missing chromium "about 20 s with its driver" command -v chromium
fi
if level test; then
  apt_missing chromium-driver "with chromium" command -v chromedriver
  # The other two engines of the browser suite and the smoke test: Firefox
  # ESR (driven by geckodriver, below) and WebKitGTK (its WebKitWebDriver and
  # MiniBrowser; it needs a display, hence Xvfb).
  apt_missing firefox-esr "24 s with the next three" command -v firefox-esr
  apt_missing webkit2gtk-driver "with firefox-esr" test -x "$webkit_driver"
  apt_missing xvfb "with firefox-esr" command -v xvfb-run
  apt_missing xauth "with firefox-esr" command -v xauth
fi
if level bench; then
  # The server's throughput (bench/run.mjs).
  apt_missing wrk "a few seconds" command -v wrk
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} (apt)"
  apt_install() {
    # Waits for another apt run to finish instead of failing on its lock.
    $sudo_cmd apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=300 \
      install -y -qq "${need_apt[@]}" >/dev/null
  }
  timed "apt packages" apt_install
fi

if level test; then
  # make lint.
  has_component() { rustup component list --installed 2>/dev/null | grep -q "^$1"; }
  for component in clippy rustfmt; do
    if missing "rust component $component (rustup)" "a few seconds" has_component $component; then
      timed "$component" rustup component add $component
    fi
  done

  # geckodriver: Firefox's WebDriver server, only published on crates.io here.
  # --locked (here, unlike wasm-bindgen-cli, every locked dependency is served):
  # the dependency versions its authors released it with.
  if missing "geckodriver $GECKODRIVER_VERSION (cargo install)" "about 83 s" command -v geckodriver; then
    echo "setup: installing geckodriver $GECKODRIVER_VERSION (crates.io, about 1.5 min)"
    timed "geckodriver" cargo install geckodriver --version "=$GECKODRIVER_VERSION" --locked
  fi

  # wasm-pack, for docs/development.md's `wasm-pack test` (make
  # wasm-pack-test). Its dev profile: it only drives cargo
  # and the test runner, and builds in about 1 min on 2 cores instead of
  # about 2.5 min optimised.
  if missing "wasm-pack $WASM_PACK_VERSION (cargo install --debug)" "about 50 s" command -v wasm-pack; then
    echo "setup: installing wasm-pack $WASM_PACK_VERSION (crates.io, about 1 min)"
    timed "wasm-pack" cargo install wasm-pack --version "=$WASM_PACK_VERSION" --locked --debug
  fi

  # nginx runs in front of two token-server replicas in tests/e2e/nginx.test.mjs,
  # as its own process with a temporary config; the distribution's service is
  # not used (stopped where the package started it).
  has_nginx() { command -v nginx || [ -x /usr/sbin/nginx ]; }
  if missing "nginx (apt, --no-install-recommends)" "a few seconds" has_nginx; then
    echo "setup: installing nginx (apt, test tools)"
    install_nginx() {
      $sudo_cmd apt-get -o DPkg::Lock::Timeout=300 update -qq
      DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=300 \
        install -y -qq --no-install-recommends nginx >/dev/null
      if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
        $sudo_cmd systemctl disable --now nginx >/dev/null 2>&1 || true
      fi
    }
    timed "nginx" install_nginx
  fi
fi
