/**
 * A lock shared by concurrent builders (test workers, several `carechain` processes): a directory
 * created atomically; a lock older than five minutes was left by a build that died and is taken
 * over. Used by scripts/build.js (the node) and scripts/buildWeb.js (the web app), each with its
 * own lock path.
 */
import { mkdirSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";

/** A lock older than this was left by a build that died. */
const STALE_LOCK_MS = 5 * 60_000;

/**
 * Runs `fn` holding the lock at `lock`, waiting for another holder to finish.
 * @param {string} lock - The lock directory's path.
 * @param {() => void} fn - The work.
 */
export function withLock(lock, fn) {
  mkdirSync(dirname(lock), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS)
          rmSync(lock, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
