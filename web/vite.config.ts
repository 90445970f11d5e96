/// <reference types="vitest" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The api role serves dist/ at "/"; in development `npm run dev` proxies the API to a running
// `vms serve` (VMS_API_URL, default http://127.0.0.1:8000).
const api = process.env.VMS_API_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    manifest: true, // scripts/first-route-size.mjs reads it to measure what the first route loads
    sourcemap: false,
    target: "es2020",
  },
  server: {
    host: "127.0.0.1",
    proxy: { "/api": api, "/health": api },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    css: false,
    restoreMocks: true,
  },
});
