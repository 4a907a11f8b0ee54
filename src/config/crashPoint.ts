/**
 * Named points of a node's start-up where a crash-safety test may kill the process. With
 * `CARECHAIN_CRASH_AT=<point>` (or `<point>#<n>`, the n-th time the point is reached) the process
 * SIGKILLs itself there, exactly as a power cut or the OOM killer would stop it: no cleanup, no
 * flushed buffers. Unset (always, outside tests), every call is a no-op. See docs/first-run.md.
 */
const ENV = "CARECHAIN_CRASH_AT";

let target: { point: string; occurrence: number } | null | undefined;
const reached = new Map<string, number>();

function parse(value: string | undefined): { point: string; occurrence: number } | null {
  if (!value) return null;
  const [point = "", n] = value.split("#");
  const occurrence = n === undefined ? 1 : Number(n);
  if (point === "" || !Number.isInteger(occurrence) || occurrence < 1) return null;
  return { point, occurrence };
}

/**
 * Marks that start-up reached `point`; kills the process there when `CARECHAIN_CRASH_AT` names it.
 * @param point - A stable name such as `deploy:sent` or `seed:patient-imported`.
 */
export function crashPoint(point: string): void {
  target ??= parse(process.env[ENV]);
  if (target === null || target.point !== point) return;
  const count = (reached.get(point) ?? 0) + 1;
  reached.set(point, count);
  if (count === target.occurrence) process.kill(process.pid, "SIGKILL");
}
