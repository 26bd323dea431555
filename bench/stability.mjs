// make bench: a page goal counts as met only when two consecutive runs both
// meet it. The results of the run before (bench/results.json as it was
// when this run started; the quick mode keeps its own) are read first and
// kept in bench/out/results.previous.json; each page condition is compared
// with the same condition of that run when it was measured the same way
// (its `setup`: visit, endpoint delay, hints, network, CPU).
import fs from "node:fs";

/** The previous run's results (null when there are none, or unreadable), copied to `keep`. */
export function previousResults(file, keep) {
  try {
    const text = fs.readFileSync(file, "utf8");
    const parsed = JSON.parse(text);
    fs.writeFileSync(keep, text);
    return parsed;
  } catch {
    return null;
  }
}

/**
 * Adds to each page condition of `page` that has a goal: `verdict`, "met
 * (2 runs)" (this run and the previous one met it), "met once" (this run
 * only, or no comparable previous run) or "not met" (this run did not);
 * and `previous_ratio_ci95`, the previous run's interval when comparable.
 */
export function addVerdicts(page, previousPage, goals) {
  for (const [k, goal] of Object.entries(goals)) {
    const f = page[k];
    if (!f || f.ratio_ci95 == null) continue;
    const prev = previousPage?.[k];
    const comparable = prev && prev.setup === f.setup && Array.isArray(prev.ratio_ci95);
    const prevMet = comparable ? prev.ratio_ci95[1] <= goal : false;
    f.verdict = !f.met ? "not met" : prevMet ? "met (2 runs)" : "met once";
    f.previous_ratio_ci95 = comparable ? prev.ratio_ci95 : null;
  }
}
