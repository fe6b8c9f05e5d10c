// Bundles the dashboard (one script, one stylesheet, one page) and the residents' page at /me
// (src/me/: me.js, me.css, me.html; no libraries) into a folder for the server to embed:
// `node build.mjs [OUT]` (default dist/). The server's build script runs this, with its own
// output folder, when the sources change.
import { build } from "esbuild";
import { mkdirSync, copyFileSync } from "node:fs";
import { join } from "node:path";

const out = process.argv[2] ?? "dist";
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ["src/app.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["chrome110", "firefox110", "safari16"],
  outfile: join(out, "app.js"),
  legalComments: "linked",
  logLevel: "warning",
});
copyFileSync("src/index.html", join(out, "index.html"));
copyFileSync("src/style.css", join(out, "style.css"));
await build({
  entryPoints: ["src/me/me.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["chrome110", "firefox110", "safari16"],
  outfile: join(out, "me.js"),
  legalComments: "none",
  logLevel: "warning",
});
copyFileSync("src/me/me.html", join(out, "me.html"));
copyFileSync("src/me/me.css", join(out, "me.css"));
