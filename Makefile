# The README's commands. Each target installs what it needs first, and
# only that (scripts/setup.sh LEVEL skips what is already there): `build`
# for make pkg and make demo, `test` for make test and the test stages,
# `bench` for make bench.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
WASM_TARGET := wasm32-unknown-unknown
WASM_BUILD := target/$(WASM_TARGET)/wasm/chathub_loader.wasm
export TEST_PORT ?= 8787
PORT ?= 8080

.PHONY: setup setup-build setup-bench pkg test demo bench bench-quick lint host-test nginx-test browser-test pkg-test e2e-test size \
  browser-test-chromium browser-test-firefox browser-test-webkit wasm-pack-test \
  test-server smoke-test examples-test screenshots

## Everything `make test` needs (.ci/run on a new machine: the browsers, their
## drivers, Xvfb, wasm-pack, nginx, rustfmt and clippy) on top of the build's.
setup:
	@scripts/setup.sh test
## What building the package needs: the wasm32 target, wasm-bindgen-cli, npm ci.
setup-build:
	@scripts/setup.sh build
## make bench: Chromium and wrk on top of the build's.
setup-bench:
	@scripts/setup.sh bench

## make pkg: build the npm package (glue + size-optimised wasm) into pkg/
pkg: setup-build
	cargo build -p chathub-loader --target $(WASM_TARGET) --profile wasm --features ship
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
	@# The glue's snippets are js/*.js: imported from there, so the modules
	@# js/entry.js imports itself (js/net.js, js/dom.js) are the same
	@# modules, not a second copy.
	sed -i -E "s#(['\"])\./snippets/[^/'\"]+/js/#\1../js/#g" pkg/chathub_loader.js
	node_modules/.bin/esbuild js/entry.js --bundle --minify --format=esm \
	  --target=es2020 --legal-comments=none --log-level=warning \
	  --alias:chathub-glue=./pkg/chathub_loader.js \
	  --outfile=pkg/chathub_loader.js --allow-overwrite
	@# chathub-loader/prefetch: the first token request, without the loader.
	node_modules/.bin/esbuild js/prefetch.js --bundle --minify --format=esm \
	  --target=es2020 --legal-comments=none --log-level=warning --outfile=pkg/prefetch.js
	@# chathub-loader/fallback: the contact box without WebAssembly.
	node_modules/.bin/esbuild js/fallback.js --bundle --minify --format=esm \
	  --target=es2020 --legal-comments=none --log-level=warning --outfile=pkg/fallback.js
	@# chathub-loader/auto: the one-tag entry, bundled with the trigger wait
	@# of js/dom.js only; the glue and fallback.js next to it stay dynamic
	@# imports, made when its trigger fires.
	node_modules/.bin/esbuild js/auto.js --bundle --minify --format=esm \
	  --external:./chathub_loader.js --external:./fallback.js \
	  --target=es2020 --legal-comments=none --log-level=warning --outfile=pkg/auto.js
	@# chathub-loader/react and chathub-loader/vue: the adapters, each with
	@# js/adapter.js; the framework and the package's own files stay imports.
	for fw in react vue; do \
	  node_modules/.bin/esbuild js/$$fw.js --bundle --minify --format=esm \
	    --target=es2020 --legal-comments=none --log-level=warning \
	    --external:$$fw --external:./chathub_loader.js --external:./fallback.js \
	    --outfile=pkg/$$fw.js; \
	done
	rm -rf pkg/snippets
	@ls -l pkg/chathub_loader_bg.wasm pkg/chathub_loader.js | awk '{print "pkg: " $$5 " bytes " $$9}'

## make test: every check and test of both crates, stage by stage, each
## timed (the times are printed at the end and kept in target/stage-times.txt).
TEST_STAGES := setup lint host-test nginx-test browser-test pkg pkg-test e2e-test examples-test smoke-test
test:
	@mkdir -p target; : > target/stage-times.txt; all=$$SECONDS; \
	report() { echo "make test: stage times (s)"; sed 's/^/  /' target/stage-times.txt; }; \
	for stage in $(TEST_STAGES); do \
	  start=$$SECONDS; \
	  case $$stage in setup) done_already="";; pkg) done_already="-o setup -o setup-build";; *) done_already="-o setup -o setup-build -o pkg";; esac; \
	  if ! $(MAKE) --no-print-directory $$done_already $$stage; then \
	    echo "$$stage $$((SECONDS - start)) FAILED" >> target/stage-times.txt; report; \
	    [ "$$stage" != browser-test ] || cat target/failure-summary.txt 2>/dev/null || true; \
	    echo "make test: $$stage FAILED"; exit 1; \
	  fi; \
	  echo "$$stage $$((SECONDS - start))" >> target/stage-times.txt; \
	done; \
	echo "total $$((SECONDS - all))" >> target/stage-times.txt; report; \
	echo "make test: all passed"

lint:
	cargo fmt --all -- --check
	cargo clippy -p chathub-loader --target $(WASM_TARGET) --all-targets -- -D warnings
	@# The shipped build (no_std, its own panic handler): the library only,
	@# as the test targets link std.
	cargo clippy -p chathub-loader --target $(WASM_TARGET) --features ship --lib -- -D warnings
	@# The token server with the dev feature (dev mode, the fake ChatHub,
	@# every test) and as a production build leaves it (no dev code).
	cargo clippy -p chathub-token-server --all-targets --features dev -- -D warnings
	cargo clippy -p chathub-token-server --all-targets -- -D warnings

host-test:
	cargo test -p chathub-loader
	cargo test -p chathub-token-server --features dev

## The token server as server/README.md runs it in production: Debian's
## nginx with server/deploy/nginx.conf in front of two replicas (rate limit
## per visitor, one replica stopped under load, health endpoints).
nginx-test: setup
	cargo build -p chathub-token-server --features dev
	node tests/e2e/nginx.test.mjs

## Browser tests: the wasm-bindgen suite (tests/browser_*.rs) against a real
## local HTTP server (tests/server/test-server.mjs, started once for the
## run) whose answers each test controls, in headless Chromium, Firefox ESR
## and WebKitGTK, side by side after one build. Each engine's result is named
## ("browser suite: firefox FAILED"); see scripts/browser-suite.sh.
browser-test: setup
	@scripts/browser-suite.sh chromium firefox webkit
browser-test-chromium: setup
	@scripts/browser-suite.sh chromium
browser-test-firefox: setup
	@scripts/browser-suite.sh firefox
browser-test-webkit: setup
	@scripts/browser-suite.sh webkit
## docs/development.md's wasm-pack commands, both: --chrome and --firefox.
wasm-pack-test: setup
	@scripts/browser-suite.sh chromium-wasm-pack firefox-wasm-pack

## The test server alone, in the foreground (for `wasm-pack test` or
## `cargo test --target wasm32-unknown-unknown` from another terminal).
test-server:
	node tests/server/test-server.mjs $(TEST_PORT)

## The npm package: size budget, the option checks shared with the plain-JS
## entries (in js/dom.js, run in Node), TypeScript surface (with the React and
## Vue adapters' @ts-expect-error misuse), npm pack, SSR import and rendering;
## and the docs: every link and anchor of README.md and docs/ resolves, the
## snippets that need no browser (install, proxies, configs, the React, Next
## and Vue components rendered on the server) as written.
pkg-test: pkg
	node tests/docs/links.mjs
	node tests/docs/snippets.mjs
	node tests/pkg/size-budget.mjs
	node tests/pkg/options.test.mjs
	node_modules/.bin/tsc -p tests/pkg/tsconfig.json
	node tests/pkg/ssr-import.mjs
	node tests/pkg/ssr-adapters.mjs
	cd pkg && npm pack --dry-run --json > ../target/pack.json && node ../tests/pkg/check-pack.mjs ../target/pack.json
	cd pkg && npm pack --pack-destination ../target --loglevel=error > /dev/null
	node tests/pkg/install-check.mjs target/chathub-loader-$$(node -p 'require("./pkg/package.json").version').tgz

## End to end: the demo (dev server + built pkg) in headless Chromium, the
## package under strict page policies (CSP nonce, 'strict-dynamic', Trusted
## Types, SRI, no WebAssembly), init() where the .wasm cannot be loaded (404,
## an HTML page, a network error, a damaged file: each its code), and the
## docs' quick starts run as written.
e2e-test: setup pkg
	cargo build -p chathub-token-server --features dev
	node tests/e2e/demo.test.mjs
	node tests/e2e/policies.test.mjs
	node tests/e2e/auto.test.mjs
	node tests/e2e/init-errors.test.mjs
	node tests/e2e/docs-snippets.test.mjs

## The example apps (www/examples/react, vue, angular, nextjs, sveltekit,
## astro), each installed from the `npm pack` tarball (npm ci, skipped when
## nothing changed), built (Vite; the Angular CLI; next build; SvelteKit's
## vite build; astro build) and driven in headless Chromium against the dev
## token server (Next.js under next start, SvelteKit under vite preview and
## vite dev, their token endpoint proxied to it), after checking that the
## snippets of docs/guides/{nextjs,sveltekit,astro}.md are the apps' files;
## the static example (www/examples/static, auto.js tags, no bundler) too.
examples-test: setup pkg
	cargo build -p chathub-token-server --features dev
	node tests/e2e/examples.test.mjs
	node tests/e2e/static-example.test.mjs

## Smoke test of the demo in Firefox ESR and WebKitGTK over W3C WebDriver
## (WebKit's MiniBrowser needs a display: a private Xvfb); the package's
## plain-JS entries (adapters, the Angular service, fallback.js, auto.js)
## in Chromium, Firefox ESR and WebKitGTK the same way.
smoke-test: setup pkg
	cargo build -p chathub-token-server --features dev
	xvfb-run -a -s "-screen 0 1280x1024x24" node tests/e2e/smoke-webdriver.mjs firefox webkit
	xvfb-run -a -s "-screen 0 1280x1024x24" node tests/e2e/entries.test.mjs chromium firefox webkit

## make screenshots: retakes the README's screenshots of the demo page
## (loading, ready, fallback) into www/screenshots/ (scripts/screenshots.mjs).
screenshots: setup pkg
	cargo build -p chathub-token-server --features dev
	node scripts/screenshots.mjs

## make demo: the whole thing on one machine, offline, at http://127.0.0.1:$(PORT)/
demo: pkg
	cargo run -p chathub-token-server --release --features dev -- dev --port $(PORT)

## make bench: size, page cost, memory, requests and server throughput
## (bench/README.md; BENCH_PORTS=FROM-TO keeps its servers in a port range)
bench: setup-bench pkg
	cargo build -p chathub-token-server --release --features dev
	node bench/run.mjs

## make bench-quick: the same with few samples (a few minutes), to check the
## bench itself; writes bench/out/results-quick.json, not bench/results.json
bench-quick: setup-bench pkg
	cargo build -p chathub-token-server --release --features dev
	BENCH_QUICK=1 node bench/run.mjs
