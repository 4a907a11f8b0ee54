import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin, type Rolldown } from "vite";

type OutputChunk = Rolldown.OutputChunk;

/**
 * Emits the health card verifier's service worker (`verify-sw.js`, served at /verify-sw.js) from
 * web/src/passport/verifierServiceWorker.js, with the files the verifier runs on: the entry and
 * what it imports, the verifier page's chunk with everything it imports (dynamic imports too,
 * such as jsQR), and the stylesheets. Not the other pages: they are never needed offline.
 */
function verifierServiceWorker(): Plugin {
  return {
    name: "carechain-verifier-service-worker",
    apply: "build",
    generateBundle(_options, bundle) {
      const chunks = Object.values(bundle).filter((file): file is OutputChunk => file.type === "chunk");
      const byName = new Map(chunks.map((chunk) => [chunk.fileName, chunk]));
      const verifier = chunks.find((chunk) => chunk.facadeModuleId?.endsWith("/pages/verify/Verifier.tsx"));
      if (verifier === undefined) throw new Error("the verifier page's chunk is missing");
      const files = new Set<string>();
      const visit = (chunk: OutputChunk, dynamic: boolean) => {
        if (files.has(chunk.fileName)) return;
        files.add(chunk.fileName);
        for (const name of [...chunk.imports, ...(dynamic ? chunk.dynamicImports : [])]) {
          const next = byName.get(name);
          if (next !== undefined) visit(next, dynamic);
        }
      };
      for (const entry of chunks.filter((chunk) => chunk.isEntry)) visit(entry, false);
      visit(verifier, true);
      for (const file of Object.values(bundle))
        if (file.type === "asset" && file.fileName.startsWith("assets/")) files.add(file.fileName);
      const assets = [...files].map((file) => `/${file}`).sort();
      const version = createHash("sha256").update(assets.join("\n")).digest("hex").slice(0, 16);
      const source = readFileSync(
        join(import.meta.dirname, "src", "passport", "verifierServiceWorker.js"),
        "utf8",
      )
        .replace("const VERSION = __VERSION__;", `const VERSION = ${JSON.stringify(version)};`)
        .replace("const ASSETS = __ASSETS__;", `const ASSETS = ${JSON.stringify(assets)};`);
      if (/= __(VERSION|ASSETS)__;/.test(source))
        throw new Error("the verifier's service worker was not filled in");
      this.emitFile({ type: "asset", fileName: "verify-sw.js", source });
    },
  };
}

/**
 * The web app's build: one small entry (sign-in, layout, API client), each page a lazy chunk.
 * Modules of src/ it imports (audit verification, vocabulary, SIWE client) are bundled from source.
 * No inline scripts or styles, so the node's Content-Security-Policy can say script-src 'self'.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  plugins: [react(), verifierServiceWorker()],
  build: {
    outDir: "dist",
    target: "es2022",
    sourcemap: false,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 400,
    rolldownOptions: {
      output: {
        // The bundler would otherwise hoist what several lazy pages share (viem, zod) into the
        // entry chunk, which every first load pays for; keep them in chunks of their own.
        codeSplitting: {
          groups: [
            // Vite's preload helper, which the entry needs: it would land in whichever shared chunk
            { name: "preload", test: /preload-helper/, priority: 2 },
            // the curves and hashes on their own: the health card verifier needs them, not viem
            { name: "curves", priority: 2, test: /node_modules[\\/]@noble[\\/]/ },
            { name: "ledger", priority: 1, test: /node_modules[\\/](viem|ox|abitype|@noble|@scure)[\\/]/ },
            { name: "schemas", priority: 1, test: /node_modules[\\/]zod[\\/]/ },
          ],
        },
      },
    },
  },
});
