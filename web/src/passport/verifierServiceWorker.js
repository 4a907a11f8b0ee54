/* global self, caches, location, fetch, URL, Response, Headers, __VERSION__, __ASSETS__ */
/**
 * The health card verifier's service worker (scope /verify): keeps the verifier page, the files it
 * runs on and the last ledger cache, so the verifier works offline once loaded. The build
 * (web/vite.config.ts) fills in VERSION and ASSETS: the verifier's files, not the rest of the app.
 *
 * - the page (/verify): network first, the kept copy when the node cannot be reached;
 * - /passport/ledger-cache: network first (kept on every answer), else the kept copy, marked with
 *   `x-carechain-offline: 1` so the page says it is offline and shows the copy's age;
 * - /assets/*: content-hashed, so the kept copy first.
 */
const VERSION = __VERSION__;
const ASSETS = __ASSETS__;
const APP_CACHE = `carechain-verifier-${VERSION}`;
const LEDGER_CACHE = "carechain-verifier-ledger";
const PAGE = "/verify";
const LEDGER = "/passport/ledger-cache";

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(APP_CACHE)
      .then((cache) => cache.addAll([PAGE, ...ASSETS]))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(
          keys
            .filter(
              (key) => key.startsWith("carechain-verifier-") && key !== APP_CACHE && key !== LEDGER_CACHE,
            )
            .map((key) => caches.delete(key)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

async function networkFirst(request, cacheName, key, marked) {
  const cache = await caches.open(cacheName);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(key, response.clone());
    return response;
  } catch (error) {
    const kept = await cache.match(key);
    if (kept === undefined) throw error;
    if (!marked) return kept;
    const headers = new Headers(kept.headers);
    headers.set("x-carechain-offline", "1");
    return new Response(await kept.blob(), { status: kept.status, headers });
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(APP_CACHE);
  const kept = await cache.match(request);
  if (kept !== undefined) return kept;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== location.origin) return;
  if (request.mode === "navigate" && url.pathname === PAGE) {
    event.respondWith(networkFirst(request, APP_CACHE, PAGE, false));
  } else if (url.pathname === LEDGER) {
    event.respondWith(networkFirst(request, LEDGER_CACHE, LEDGER, true));
  } else if (url.pathname.startsWith("/assets/")) {
    event.respondWith(cacheFirst(request));
  }
});
