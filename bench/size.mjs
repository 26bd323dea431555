// make bench, part size: what `npm pack` in pkg/ ships, raw, gzip -9 and
// brotli -q 11; and the machine the run is on.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";

/** Returns { figures } for results.json's size and { extra } (the glue's raw size). */
export function size(pkgDir) {
  const wasm = fs.readFileSync(path.join(pkgDir, "chathub_loader_bg.wasm"));
  const js = fs.readFileSync(path.join(pkgDir, "chathub_loader.js"));
  const gz = (b) => zlib.gzipSync(b, { level: 9 }).length;
  const br = (b) =>
    zlib.brotliCompressSync(b, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
        [zlib.constants.BROTLI_PARAM_LGWIN]: 24,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length,
      },
    }).length;
  const figures = { wasm_raw: wasm.length, wasm_gzip: gz(wasm), wasm_brotli: br(wasm), js_gzip: gz(js), js_brotli: br(js) };
  figures.total_brotli = figures.wasm_brotli + figures.js_brotli;
  return { figures, extra: { js_raw: js.length } };
}

/** The machine: CPU model, cores, memory, Node, kernel. */
export function machine() {
  let cpu = os.cpus()[0]?.model || "unknown";
  try {
    const m = fs.readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.+)$/m);
    if (m) cpu = m[1].trim();
  } catch {}
  return { cpu, cores: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, kernel: os.release() };
}
