#!/usr/bin/env -S node --max-semi-space-size=64
// Runs the TypeScript CLI in this process through tsx's loader, so no build step is needed.
// --max-semi-space-size=64 (MiB): a node serves many short requests that allocate a lot and keep
// little; a larger young generation makes minor GCs rarer and cheaper (about a quarter of the CPU
// of an audited FHIR read, measured in bench/fhirRead.ts).
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
