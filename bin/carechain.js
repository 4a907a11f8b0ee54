#!/usr/bin/env -S node --max-semi-space-size=64
// The carechain CLI, compiled to dist/ by `npm run build` (`npm ci` builds it; in a checkout it
// is rebuilt here first when a source changed since). `npm run dev` runs the TypeScript source.
// --max-semi-space-size=64 (MiB): a node serves many short requests that allocate a lot and keep
// little; a larger young generation makes minor GCs rarer and cheaper (about a quarter of the CPU
// of an audited FHIR read, measured in bench/fhirRead.ts).
import process from "node:process";
import { ensureBuilt } from "../scripts/build.js";
import { ensureWebBuilt } from "../scripts/buildWeb.js";

ensureBuilt();
// only `carechain start` serves the web app; other commands need not wait for its build
if (process.argv[2] === "start") ensureWebBuilt();
await import("../dist/cli/main.js");
