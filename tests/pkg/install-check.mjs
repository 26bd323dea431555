// `npm pack` gives an installable package: install the tarball into a
// fresh project, import it by name (exports map) and type-check an import
// (types map) there, as a user's project would.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import assert from "node:assert/strict";

const tarball = path.resolve(process.argv[2]);
const tsc = path.resolve("node_modules/.bin/tsc");
const esbuild = path.resolve("node_modules/.bin/esbuild");
const dir = mkdtempSync(path.join(tmpdir(), "chathub-loader-install-"));
try {
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "user-app", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", tarball], { cwd: dir, stdio: "inherit" });
  // React and Vue are optional peers: the package alone brings neither.
  for (const peer of ["react", "vue"]) assert.ok(!existsSync(path.join(dir, "node_modules", peer)), `installing the package installed ${peer}`);
  writeFileSync(
    path.join(dir, "check.mjs"),
    `import init, { WidgetTokenManager, initSync } from "chathub-loader";
     import { showFallback } from "chathub-loader/fallback";
     import { prefetchToken } from "chathub-loader/prefetch";
     if (typeof prefetchToken !== "function" || prefetchToken({ tokenUrl: "/t" }) !== false) process.exit(1);
     if (typeof init !== "function" || typeof WidgetTokenManager !== "function" || typeof initSync !== "function") process.exit(1);
     if (typeof showFallback !== "function") process.exit(1);
     // The adapters resolve by name (importing them needs React or Vue).
     for (const name of ["react", "vue"]) {
       const file = import.meta.resolve("chathub-loader/" + name);
       if (!file.endsWith("/node_modules/chathub-loader/" + name + ".js")) process.exit(1);
     }`,
  );
  execFileSync("node", ["check.mjs"], { cwd: dir, stdio: "inherit" });
  writeFileSync(
    path.join(dir, "app.ts"),
    `import init, { WidgetTokenManager, type WidgetTokenManagerOptions } from "chathub-loader";
     import { prefetchToken } from "chathub-loader/prefetch";
     const options: WidgetTokenManagerOptions = { tokenUrl: "/api/chathub/token" };
     export async function start(): Promise<void> {
       const asked: boolean = prefetchToken(options);
       void asked;
       try {
         await init();
       } catch (e) {
         if ((e as { code?: string }).code === "UNSUPPORTED_ENVIRONMENT") (await import("chathub-loader/fallback")).showFallback(options);
         return;
       }
       await new WidgetTokenManager(options).initialize();
     }
     // The React adapter's types need no @types/react of their own.
     import { useChatHub, type UseChatHubResult } from "chathub-loader/react";
     export const useChat = (): UseChatHubResult => useChatHub(options);`,
  );
  writeFileSync(
    path.join(dir, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { target: "ES2022", module: "ESNext", moduleResolution: "bundler", strict: true, noEmit: true, lib: ["ESNext", "DOM"] }, files: ["app.ts"] }),
  );
  execFileSync(tsc, ["-p", "tsconfig.json"], { cwd: dir, stdio: "inherit" });
  // A bundler keeps what `sideEffects` says runs on import, and drops the
  // rest when nothing of it is used: `import "chathub-loader/auto"` alone
  // starts the tags; the other entries imported for nothing cost nothing.
  const bundle = (code) => {
    writeFileSync(path.join(dir, "entry.js"), code);
    return execFileSync(esbuild, ["entry.js", "--bundle", "--format=esm", "--log-level=error", "--external:react", "--external:vue"], { cwd: dir, encoding: "utf8" });
  };
  const auto = bundle(`import "chathub-loader/auto";`);
  assert.ok(auto.includes('querySelectorAll("script[src]")'), "import \"chathub-loader/auto\" is kept by a bundler (sideEffects)");
  const unused = bundle(["", "/fallback", "/react", "/vue"].map((e) => `import "chathub-loader${e}";`).join("\n"));
  assert.equal(unused.trim(), "", "the other entries, imported for nothing, are dropped (no side effects)");
  console.log(`install-check: ${path.basename(tarball)} installs, imports by name, type-checks, and bundles keep auto.js only`);
} catch (e) {
  assert.fail(`install-check failed: ${e.message}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
