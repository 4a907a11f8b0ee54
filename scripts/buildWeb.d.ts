/** Types of scripts/buildWeb.js (plain JavaScript, so `npm ci` can run it before TypeScript). */
export function isWebStale(): boolean;
export function ensureWebBuilt(): void;
export function buildWeb(): void;
export function initialScriptSize(dir: string): {
  initialFiles: string[];
  initialGzipBytes: number;
  totalGzipBytes: number;
};
