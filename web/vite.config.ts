import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/**
 * The web app's build: one small entry (sign-in, layout, API client), each page a lazy chunk.
 * Modules of src/ it imports (audit verification, vocabulary, SIWE client) are bundled from source.
 * No inline scripts or styles, so the node's Content-Security-Policy can say script-src 'self'.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  plugins: [react()],
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
            { name: "ledger", priority: 1, test: /node_modules[\\/](viem|ox|abitype|@noble|@scure)[\\/]/ },
            { name: "schemas", priority: 1, test: /node_modules[\\/]zod[\\/]/ },
          ],
        },
      },
    },
  },
});
