// Room boundaries of src/ (one room = one folder under src/). Each room may import only rooms of a
// lower layer, so no import runs up the house and no two rooms can import each other in a cycle.
// Scenario rooms share a layer and never import each other; the core never imports them; only
// the composition root (node/) mounts api/, and nothing imports cli/. docs/architecture.md says why.
/** Layers from the bottom up; rooms in one inner list may not import each other. */
const LAYERS = [
  ["errors"],
  ["model"],
  ["config", "store"],
  ["crypto", "events"],
  ["chain"],
  ["audit"],
  ["consent"],
  ["records"],
  ["access"],
  // SMART App Launch: the OAuth server over access's sign-in; the FHIR API (api) takes its tokens
  ["smart"],
  ["federation", "research", "monitoring", "passport", "guidance"],
  ["api"],
  ["node"],
  ["cli"],
];

const roomPattern = (rooms) => `^src/(${rooms.join("|")})/`;

const upward = LAYERS.flatMap((rooms, i) => {
  const above = LAYERS.slice(i + 1).flat();
  if (above.length === 0) return [];
  return [
    {
      name: `no-upward-from-${rooms.join("-")}`,
      comment: `${rooms.join(", ")} may import only rooms below: never ${above.join(", ")}`,
      severity: "error",
      from: { path: roomPattern(rooms) },
      to: { path: roomPattern(above) },
    },
  ];
});

const sideways = LAYERS.filter((rooms) => rooms.length > 1).map((rooms) => ({
  name: `no-sideways-in-${rooms.join("-")}`,
  comment: `${rooms.join(", ")} share a layer and never import each other`,
  severity: "error",
  from: { path: roomPattern(rooms) },
  to: { path: roomPattern(rooms), pathNot: "^src/$1/" },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...upward,
    ...sideways,
    {
      name: "no-unknown-room",
      comment: "every folder under src/ is a room with a layer in .dependency-cruiser.cjs",
      severity: "error",
      from: { path: "^src/[^/]+/", pathNot: roomPattern(LAYERS.flat()) },
      to: {},
    },
    {
      name: "no-import-of-unknown-room",
      comment: "every folder under src/ is a room with a layer in .dependency-cruiser.cjs",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^src/[^/]+/", pathNot: roomPattern(LAYERS.flat()) },
    },
    {
      name: "no-production-to-tests",
      comment: "production code never imports test or bench code",
      severity: "error",
      from: { path: "^src/", pathNot: "\\.test\\.ts$" },
      to: { path: "(^test/|^bench/|\\.test\\.ts$)" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^src/chain/artifacts/|\\.test\\.ts$)" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
