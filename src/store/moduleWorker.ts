/**
 * Starts a worker thread on a module next to the caller: the compiled JavaScript in dist/, or,
 * running from TypeScript source (tests, benches, `npm run dev`), the .ts file behind tsx's loader,
 * which a worker thread does not inherit and registers first.
 */
import { Worker, type WorkerOptions } from "node:worker_threads";

/**
 * @param here - the caller's `import.meta.url`
 * @param name - the worker module's file name without extension, in the caller's folder
 * @param options - passed to `Worker` (workerData and the like)
 * @returns the started worker
 */
export function startModuleWorker(here: string, name: string, options: WorkerOptions = {}): Worker {
  const fromSource = here.endsWith(".ts");
  const url = new URL(`./${name}${fromSource ? ".ts" : ".js"}`, here);
  if (!fromSource) return new Worker(url, options);
  const boot = `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(boot, { ...options, eval: true });
}
