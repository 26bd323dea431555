// make bench: the statistics. Medians, nearest-rank quantiles, and 95 %
// percentile-bootstrap intervals of a median, plain or over blocks of
// samples taken at different times of the run (a two-stage bootstrap), all
// from a seeded generator: the same samples give the same interval.

export const BOOT_RESAMPLES = 2000;
export const BOOT_SEED = 12;

/** Nearest-rank quantile q of xs (null for none). */
export function quantile(xs, q) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i];
}

/** The median (the mean of the two middle values for an even count). */
export function median(xs) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** A small seeded PRNG (mulberry32). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentileInterval(meds) {
  meds.sort();
  const n = meds.length;
  return [meds[Math.floor(0.025 * n)], meds[Math.ceil(0.975 * n) - 1]];
}

/** 95 % percentile-bootstrap interval of the median of xs. */
export function bootstrapMedianCI(xs, resamples = BOOT_RESAMPLES, seed = BOOT_SEED) {
  return blockBootstrapMedianCI([xs], resamples, seed);
}

/**
 * 95 % interval of the median of all samples, where `blocks` are groups of
 * samples taken together (one block of pairs at one time of the run): each
 * resample draws blocks with replacement, then samples with replacement
 * within each drawn block. A shift between blocks (the machine's load
 * drifting during the run) widens the interval, as it should; with one
 * block this is the plain bootstrap.
 */
export function blockBootstrapMedianCI(blocks, resamples = BOOT_RESAMPLES, seed = BOOT_SEED) {
  const bs = blocks.filter((b) => b.length);
  const n = bs.reduce((a, b) => a + b.length, 0);
  if (n < 2) return null;
  const rnd = mulberry32(seed);
  const meds = new Float64Array(resamples);
  const pick = [];
  for (let r = 0; r < resamples; r++) {
    pick.length = 0;
    for (let j = 0; j < bs.length; j++) {
      const b = bs.length === 1 ? bs[0] : bs[Math.floor(rnd() * bs.length)];
      for (let i = 0; i < b.length; i++) pick.push(b[Math.floor(rnd() * b.length)]);
    }
    meds[r] = median(pick);
  }
  return percentileInterval(meds);
}

export const r1 = (x) => (x == null ? null : Math.round(x * 10) / 10);
export const r2 = (x) => (x == null ? null : Math.round(x * 100) / 100);
export const r3 = (x) => (x == null ? null : Math.round(x * 1000) / 1000);
