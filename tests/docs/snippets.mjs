// The snippets of README.md and docs/ that can be checked in Node, as
// written (tests/docs/markdown.mjs finds them by their markers):
//
//   install-pack, install-tarball   `npm pack ./pkg` from the repository root
//                                   names the tarball the install line uses
//   vite-proxy, sveltekit-vite,     the dev server's three paths, to make
//   angular-proxy, next-rewrites    demo's port; the same paths as the
//                                   examples' own proxies
//   vite-exclude                    what sveltekit-vite has
//   angular-json                    the example's angular.json has both entries
//   react-app, next-chat            render on the server with the built
//                                   chathub-loader/react: "Chat: idle"
//   vue-app                         compiled (@vue/compiler-sfc) and rendered
//                                   on the server with chathub-loader/vue
//   wasm-url                        the built glue finds its .wasm that way
//   two-commands, engine-targets,   shell lines: each `make` target is the
//   wasm-pack-test, examples-run,   Makefile's (tests/docs/links.mjs), each
//   static-example                  www/ folder exists, each `cargo -p` is a
//                                   crate of the workspace with its features
//
// The quick starts that need a browser run in tests/e2e/docs-snippets.test.mjs.
// Needs `make pkg`. Run by `make pkg-test`; exit code 0 or 1.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { root, snippet, where } from "./markdown.mjs";

const DEMO = "http://127.0.0.1:8080"; // make demo
const PATHS = ["/api/chathub", "/operator-chat-panel", "/fake-chathub"];
const out = resolve(root, "target/docs-snippets/node");
mkdirSync(out, { recursive: true });
const checked = [];
async function check(names, body) {
  try {
    await body();
    checked.push(...names);
  } catch (e) {
    throw new Error(`${names.join(", ")} (${names.map(where).join("; ")}): ${e.message}`);
  }
}
/** A fragment of an object literal (`  server: {…},`) as an object. */
const fragment = (code) => new Function(`return ({${code.replace(/^\s*\/\/.*$/gm, "")}});`)();

await check(["install-pack", "install-tarball"], () => {
  const version = JSON.parse(readFileSync(resolve(root, "pkg/package.json"), "utf8")).version;
  const tgz = `chathub-loader-${version}.tgz`;
  const pack = snippet("install-pack");
  assert.match(pack, /^make pkg\b/m);
  assert.match(pack, /^npm pack \.\/pkg\b/m);
  assert.ok(pack.includes(tgz), `names ${tgz}`);
  assert.match(snippet("install-tarball"), new RegExp(`^npm install \\S+/${tgz.replaceAll(".", "\\.")}$`, "m"));
  const [{ filename }] = JSON.parse(execFileSync("npm", ["pack", "./pkg", "--dry-run", "--json", "--loglevel=error"], { cwd: root, encoding: "utf8" }));
  assert.equal(filename, tgz, "npm pack ./pkg writes another file name");
});

const proxyOf = (server) => {
  const proxy = server.proxy;
  assert.deepEqual(Object.keys(proxy), PATHS);
  for (const p of PATHS) assert.equal(proxy[p], DEMO, p);
};
const exampleProxyPaths = (file) => [...readFileSync(resolve(root, file), "utf8").matchAll(/"(\/[a-z/-]+)":/g)].map((m) => m[1]);

await check(["vite-proxy", "sveltekit-vite", "vite-exclude", "angular-proxy"], () => {
  proxyOf(fragment(snippet("vite-proxy")).server);
  const svelte = fragment(snippet("sveltekit-vite"));
  proxyOf(svelte.server);
  assert.deepEqual(svelte.optimizeDeps, fragment(snippet("vite-exclude")).optimizeDeps);
  assert.deepEqual(svelte.optimizeDeps, { exclude: ["chathub-loader"] });
  const angular = JSON.parse(snippet("angular-proxy"));
  assert.deepEqual(Object.keys(angular), PATHS);
  for (const p of PATHS) assert.deepEqual(angular[p], { target: DEMO });
  // The examples proxy the same paths.
  for (const file of ["www/examples/react/vite.config.js", "www/examples/vue/vite.config.js"]) {
    assert.deepEqual(exampleProxyPaths(file), PATHS, file);
  }
});

await check(["next-rewrites"], async () => {
  const file = resolve(out, "next.config.mjs");
  writeFileSync(file, snippet("next-rewrites"));
  const config = (await import(pathToFileURL(file).href)).default;
  const rewrites = await config.rewrites();
  assert.deepEqual(
    rewrites.map((r) => r.source),
    PATHS.map((p) => `${p}/:path*`),
  );
  for (const r of rewrites) assert.equal(r.destination, DEMO + r.source);
});

await check(["angular-json"], () => {
  const fromDocs = JSON.parse(`{${snippet("angular-json").replace(/^\s*\/\/.*$/gm, "")}}`);
  const example = JSON.parse(readFileSync(resolve(root, "www/examples/angular/angular.json"), "utf8")).projects["chathub-example"].architect;
  const wasmAsset = fromDocs.assets.find((a) => a.glob === "chathub_loader_bg.wasm");
  assert.deepEqual(wasmAsset, { glob: "chathub_loader_bg.wasm", input: "node_modules/chathub-loader", output: "/" });
  assert.deepEqual(example.build.options.assets, [wasmAsset], "the example copies the same asset");
  assert.deepEqual(fromDocs.prebundle, example.serve.options.prebundle);
});

// Bundles `code` for Node with the built package in place of chathub-loader.
async function bundleForNode(name, code, loader, extra = {}) {
  const result = await build({
    stdin: { contents: code, loader, resolveDir: root, sourcefile: `${name}.${loader}` },
    bundle: true,
    format: "esm",
    platform: "node",
    write: false,
    jsx: "automatic",
    alias: { "chathub-loader": "./pkg/chathub_loader.js", "chathub-loader/react": "./pkg/react.js", "chathub-loader/vue": "./pkg/vue.js" },
    external: ["react", "react-dom", "react/jsx-runtime", "vue", "vue/server-renderer"],
    logLevel: "error",
    ...extra,
  });
  const file = resolve(out, `${name}.mjs`);
  writeFileSync(file, result.outputFiles[0].text);
  return import(pathToFileURL(file).href);
}

assert.equal(typeof globalThis.window, "undefined");
const { createElement } = await import("react");
const { renderToString } = await import("react-dom/server");
await check(["react-app"], async () => {
  // Vite's import.meta.env in `npm run dev`.
  const App = (await bundleForNode("react-app", snippet("react-app"), "jsx", { define: { "import.meta.env": '{"DEV":true}' } })).default;
  const html = renderToString(createElement(App));
  assert.match(html, /Chat: <!-- -->idle/, html);
  assert.match(html, /<div id="chat"><\/div>/, html);
});
await check(["next-chat"], async () => {
  // Next renders a client component on the server too: nothing starts there.
  const Chat = (await bundleForNode("next-chat", snippet("next-chat"), "jsx")).default;
  const html = renderToString(createElement(Chat));
  assert.match(html, /Chat: <!-- -->idle/, html);
  assert.match(html, /<div id="chat"><\/div>/, html);
});

await check(["vue-app"], async () => {
  const { parse, compileScript } = await import("@vue/compiler-sfc");
  const { descriptor, errors } = parse(snippet("vue-app"), { filename: "App.vue" });
  assert.deepEqual(errors, []);
  const script = compileScript(descriptor, { id: "app", inlineTemplate: true, templateOptions: { ssr: true } });
  const App = (await bundleForNode("vue-app", script.content, "js", { define: { "import.meta.env": '{"DEV":true}' } })).default;
  const { createSSRApp } = await import("vue");
  const { renderToString: renderVue } = await import("vue/server-renderer");
  const html = await renderVue(createSSRApp(App));
  assert.match(html, /Chat: idle/, html);
  assert.match(html, /<div id="chat"><\/div>/, html);
});

await check(["wasm-url"], () => {
  const glue = readFileSync(resolve(root, "pkg/chathub_loader.js"), "utf8");
  assert.ok(glue.includes(snippet("wasm-url").trim().replace(/,\s+/g, ",")), "pkg/chathub_loader.js does not load its .wasm that way");
});

const SHELL = ["two-commands", "engine-targets", "wasm-pack-test", "examples-run", "static-example"];
await check(SHELL, () => {
  const crates = {
    "chathub-loader": readFileSync(resolve(root, "Cargo.toml"), "utf8"),
    "chathub-token-server": readFileSync(resolve(root, "server/Cargo.toml"), "utf8"),
  };
  for (const name of SHELL) {
    const code = snippet(name);
    for (const [, dir] of code.matchAll(/\b(www\/[\w./-]+)/g)) {
      const folder = dir.replace(/\/dist$/, "");
      assert.ok(existsSync(resolve(root, folder)), `${name}: no folder ${folder}`);
    }
    for (const m of code.matchAll(/cargo (?:run|build|test) -p ([\w-]+)(?:[^\n]*?--features (\w+))?/g)) {
      assert.ok(m[1] in crates, `${name}: no crate ${m[1]}`);
      if (m[2]) assert.match(crates[m[1]], new RegExp(`^${m[2]} = `, "m"), `${name}: ${m[1]} has no feature ${m[2]}`);
    }
  }
});

console.log(`docs snippets: ${checked.length} checked in Node (${checked.join(", ")})`);
