// The bench's knobs: environment variables, each with the full bench's
// default and a smaller one for the quick mode (BENCH_QUICK=1, `make
// bench-quick`: a few minutes instead of half an hour, figures to check the
// bench itself, not to quote). An explicit variable wins over both.

/** The quick mode is on. */
export const QUICK = process.env.BENCH_QUICK === "1";

/** The number in env `name` (or the first alias set), else `full` or `quick`. */
export function knob(name, full, quick = full, ...aliases) {
  for (const n of [name, ...aliases]) {
    const v = process.env[n];
    if (v != null && v !== "") {
      const x = Number(v);
      if (!Number.isFinite(x)) throw new Error(`${n}=${v}: a number is expected`);
      return x;
    }
  }
  return QUICK ? quick : full;
}
