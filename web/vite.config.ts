import { defineConfig } from "vite";

// The UI is served by `corral server` at `/`, so assets live under `/assets/` with
// content hashes in their names (served with a long cache by http/ui.rs).
export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    chunkSizeWarningLimit: 1024,
  },
  server: {
    // `npm run dev` against a local `corral up`.
    proxy: {
      "/v1": { target: "http://127.0.0.1:7700", ws: true },
    },
  },
});
