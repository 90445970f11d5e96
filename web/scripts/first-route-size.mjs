// Measures the gzipped JavaScript each first route loads (the entry chunk, its static imports and
// the route's own lazy chunk with its imports) from Vite's manifest, and fails above the budget.
//   node scripts/first-route-size.mjs            (run by `npm run build`)
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const BUDGET_KB = 300;
const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const manifest = JSON.parse(readFileSync(join(dist, ".vite", "manifest.json"), "utf8"));
const ROUTES = { "/sign-in": "src/auth/SignInPage.tsx", "/ (dashboard)": "src/dashboard/DashboardPage.tsx" };

function closure(key, seen = new Set()) {
  if (seen.has(key)) return seen;
  seen.add(key);
  for (const dep of manifest[key]?.imports ?? []) closure(dep, seen);
  return seen;
}

const gz = (file) => gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
const entry = Object.keys(manifest).find((k) => manifest[k].isEntry);
const report = {};
let worst = 0;
for (const [route, source] of Object.entries(ROUTES)) {
  if (!manifest[source]) {
    console.error(`${source} (${route}) is not in the build's manifest: update ROUTES in scripts/first-route-size.mjs`);
    process.exit(1);
  }
  const keys = new Set([...closure(entry), ...closure(source)]);
  const files = [...keys].map((k) => manifest[k].file).filter((f) => f.endsWith(".js"));
  const bytes = files.reduce((sum, f) => sum + gz(f), 0);
  worst = Math.max(worst, bytes);
  report[route] = { gzip_kb: +(bytes / 1024).toFixed(1), files: files.length };
}
console.log(JSON.stringify({ first_route_js_gzip: report, budget_kb: BUDGET_KB }));
if (worst / 1024 > BUDGET_KB) {
  console.error(`first-route JavaScript is ${(worst / 1024).toFixed(1)} KB gzipped, over the ${BUDGET_KB} KB budget`);
  process.exit(1);
}
