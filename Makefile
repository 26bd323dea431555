# The README's commands. Each target installs what it needs first
# (scripts/setup.sh skips what is already there).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
WASM_TARGET := wasm32-unknown-unknown
WASM_BUILD := target/$(WASM_TARGET)/wasm/chathub_loader.wasm
TEST_PORT ?= 8787
PORT ?= 8080
export CHROMEDRIVER ?= /usr/bin/chromedriver
export WASM_BINDGEN_TEST_TIMEOUT ?= 60

.PHONY: setup pkg test demo bench lint host-test browser-test pkg-test e2e-test size

setup:
	@scripts/setup.sh

## make pkg: build the npm package (glue + size-optimised wasm) into pkg/
pkg: setup
	cargo build -p chathub-loader --target $(WASM_TARGET) --profile wasm
	rm -rf pkg/snippets
	wasm-bindgen --target web --out-dir pkg --out-name chathub_loader \
	  --remove-name-section --remove-producers-section $(WASM_BUILD)
	node_modules/.bin/wasm-opt -Oz --strip-debug --strip-producers \
	  pkg/chathub_loader_bg.wasm -o pkg/chathub_loader_bg.wasm
	@# Short import names in the .wasm and the glue (the hashed names are
	@# ~6 KB that brotli cannot squeeze); exports keep theirs.
	node scripts/minify-imports.mjs pkg/chathub_loader_bg.wasm pkg/chathub_loader.js
	@# The glue ships to every visitor too: minified, 6.3 KB -> 4.6 KB brotli.
	@# --bundle inlines the JS snippets (js/*.js, under pkg/snippets/) into
	@# the one glue file; `new URL("…_bg.wasm", import.meta.url)` is kept.
	@# js/entry.js wraps the glue's init() (UNSUPPORTED_ENVIRONMENT where
	@# WebAssembly cannot run) and is bundled with it into one file.
	node_modules/.bin/esbuild js/entry.js --bundle --minify --format=esm \
	  --target=es2020 --legal-comments=none --log-level=warning \
	  --alias:chathub-glue=./pkg/chathub_loader.js \
	  --outfile=pkg/chathub_loader.js --allow-overwrite
	@# chathub-loader/fallback: the contact box without WebAssembly.
	node_modules/.bin/esbuild js/fallback.js --bundle --minify --format=esm \
	  --target=es2020 --legal-comments=none --log-level=warning --outfile=pkg/fallback.js
	@# chathub-loader/auto: the one-tag entry; not bundled (it imports the
	@# glue and fallback.js next to it only when its trigger fires).
	node_modules/.bin/esbuild js/auto.js --minify --format=esm \
	  --target=es2020 --legal-comments=none --log-level=warning --outfile=pkg/auto.js
	rm -rf pkg/snippets
	@ls -l pkg/chathub_loader_bg.wasm pkg/chathub_loader.js | awk '{print "pkg: " $$5 " bytes " $$9}'

## make test: every check and test of both crates
test: setup lint host-test browser-test pkg-test e2e-test
	@echo "make test: all passed"

lint:
	cargo fmt --all -- --check
	cargo clippy -p chathub-loader --target $(WASM_TARGET) --all-targets -- -D warnings
	cargo clippy -p chathub-token-server --all-targets -- -D warnings

host-test:
	cargo test -p chathub-loader
	cargo test -p chathub-token-server

## Browser tests: wasm-bindgen-test in headless Chromium against a real local
## HTTP server (tests/server/test-server.mjs) whose answers each test controls.
browser-test:
	@mkdir -p target; node tests/server/test-server.mjs $(TEST_PORT) > target/test-server.log 2>&1 & echo $$! > target/test-server.pid; \
	  trap 'kill $$(cat target/test-server.pid) 2>/dev/null || true' EXIT; \
	  for i in $$(seq 50); do curl -fs http://127.0.0.1:$(TEST_PORT)/health >/dev/null && break; sleep 0.1; done; \
	  CHATHUB_TEST_SERVER=http://127.0.0.1:$(TEST_PORT) cargo test -p chathub-loader --target $(WASM_TARGET)

## The npm package: size budget, TypeScript surface, npm pack, SSR import.
pkg-test: pkg
	node tests/pkg/size-budget.mjs
	node_modules/.bin/tsc -p tests/pkg/tsconfig.json
	node tests/pkg/ssr-import.mjs
	cd pkg && npm pack --dry-run --json > ../target/pack.json && node ../tests/pkg/check-pack.mjs ../target/pack.json
	cd pkg && npm pack --pack-destination ../target --loglevel=error > /dev/null
	node tests/pkg/install-check.mjs target/chathub-loader-$$(node -p 'require("./pkg/package.json").version').tgz

## End to end: the demo (dev server + built pkg) in headless Chromium, and
## the package under strict page policies (CSP nonce, Trusted Types, SRI,
## no WebAssembly).
e2e-test: pkg
	cargo build -p chathub-token-server
	node tests/e2e/demo.test.mjs
	node tests/e2e/policies.test.mjs
	node tests/e2e/auto.test.mjs

## make demo: the whole thing on one machine, offline, at http://127.0.0.1:$(PORT)/
demo: pkg
	cargo run -p chathub-token-server --release -- dev --port $(PORT)

## make bench: size, page cost, memory, requests and server throughput
bench: pkg
	cargo build -p chathub-token-server --release
	node bench/run.mjs
