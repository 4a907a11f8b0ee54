/**
 * In-process CPU profiling for the benches (V8's sampling profiler through `node:inspector`),
 * summarized as where the time goes: shares of samples by category (the deepest frame that
 * matches a rule wins) and the top functions by self time.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { round } from "./report.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export type CategoryRule = [name: string, test: (frame: ProfileNode["callFrame"]) => boolean];

export interface ProfileSummary {
  seconds: number;
  byCategoryPercent: Record<string, number>;
  topSelfPercent: Array<{ fn: string; percent: number }>;
}

/** Starts the sampling profiler; the returned function stops it and summarizes. */
export async function startCpuProfile(rules: CategoryRule[]): Promise<() => Promise<ProfileSummary>> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 200 });
  await session.post("Profiler.start");
  return async () => {
    const { profile } = (await session.post("Profiler.stop")) as unknown as { profile: Profile };
    session.disconnect();
    // BENCH_CPU_PROFILE=<file> keeps the raw profile (open it in Chrome DevTools or speedscope).
    const keep = process.env.BENCH_CPU_PROFILE;
    if (keep) writeFileSync(keep, JSON.stringify(profile));
    return summarize(profile, rules);
  };
}

const label = (f: ProfileNode["callFrame"]): string =>
  `${f.functionName || "(anonymous)"} ${f.url.split("/").slice(-2).join("/")}:${f.lineNumber + 1}`;

function summarize(p: Profile, rules: CategoryRule[]): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const categoryOf = new Map<number, string>();
  const resolve = (id: number): string => {
    const known = categoryOf.get(id);
    if (known !== undefined) return known;
    const frame = byId.get(id)!.callFrame;
    const hit = rules.find(([, test]) => test(frame));
    const up = parent.get(id);
    const name = hit ? hit[0] : up === undefined ? "other" : resolve(up);
    categoryOf.set(id, name);
    return name;
  };
  const cat = new Map<string, number>();
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const name = resolve(id);
    cat.set(name, (cat.get(name) ?? 0) + dt);
    const l = label(byId.get(id)!.callFrame);
    self.set(l, (self.get(l) ?? 0) + dt);
  });
  const pct = (v: number) => round((100 * v) / total, 1);
  return {
    seconds: round(total / 1e6, 1),
    byCategoryPercent: Object.fromEntries(
      [...cat.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, pct(v)]),
    ),
    topSelfPercent: [...self.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([fn, v]) => ({ fn, percent: pct(v) })),
  };
}
