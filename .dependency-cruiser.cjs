/**
 * The layers of docs/ARCHITECTURE.md as rules (npm run lint:deps). A folder may import
 * its own tier and the tiers below it, never above; use cases never import a face;
 * faces never import each other (the CLI may start the servers through their one
 * entry, src/server/index.ts); no circle anywhere; no source imports a test.
 *
 * Tiers, bottom first. A new folder goes in the tier of what it is (README: Layout).
 */
const TIERS = [
  ['errors.ts', 'progress.ts', 'streams.ts'],
  ['oci', 'fs'],
  ['layer'],
  ['image', 'auth'],
  ['store', 'registry/client'],
  ['transport', 'buildpack'],
  ['runtime'],
  ['sandbox'],
  // use cases: they may use each other (no circles)
  ['stack', 'catalog', 'copy', 'promote', 'rebase', 'droplet', 'stage', 'platform', 'sbom', 'vuln'],
  // faces
  ['server', 'cli', 'web'],
];
const USE_CASES = TIERS[TIERS.length - 2];
const FACES = TIERS[TIERS.length - 1];

/** A path regex for folders (or the leaf files) of src/. */
const under = (names) => `^src/(${names.map((n) => n.replace('.', '\\.')).join('|')})(/|$)`;

const layerRules = TIERS.flatMap((tier, i) => {
  const above = TIERS.slice(i + 1).flat();
  if (above.length === 0) return [];
  return [
    {
      name: `tier-${i}-imports-up`,
      comment: `${tier.join(', ')} may import only ${i === 0 ? 'each other' : `themselves and ${TIERS.slice(0, i).flat().join(', ')}`} (DESIGN.md layers)`,
      severity: 'error',
      from: { path: under(tier), pathNot: '(\\.test\\.ts|/testdata/)' },
      to: { path: under(above) },
    },
  ];
});

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'oci-imports-only-errors',
      comment: 'oci/ imports nothing of ours but errors.ts',
      severity: 'error',
      from: { path: '^src/oci/', pathNot: '\\.test\\.ts$' },
      to: { path: '^src/', pathNot: ['^src/oci/', '^src/errors\\.ts$'] },
    },
    {
      name: 'use-case-imports-face',
      comment: 'use cases never import a face (cli, server, web)',
      severity: 'error',
      from: { path: under(USE_CASES) },
      to: { path: under(FACES) },
    },
    ...FACES.map((face) => ({
      name: `${face}-imports-another-face`,
      comment: `${face} never imports another face (the CLI starts the servers through src/server/index.ts only)`,
      severity: 'error',
      from: { path: `^src/${face}/`, pathNot: '\\.test\\.ts$' },
      to: { path: under(FACES.filter((f) => f !== face)), pathNot: face === 'cli' ? '^src/server/index\\.ts$' : '^$' },
    })),
    {
      name: 'no-circular',
      comment: 'no import circle, whatever the layers',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-test-from-source',
      comment: 'source never imports a test file or test support (test/, *.test.ts, testdata/)',
      severity: 'error',
      from: { path: '^src/', pathNot: '(\\.test\\.ts$|/testdata/)' },
      to: { path: '(^test/|\\.test\\.ts$|/testdata/)' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that resolves to nothing',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^dist/|^node_modules/)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.test.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js'],
    },
    reporterOptions: {
      dot: { collapsePattern: '^src/([^/]+|registry/client|buildpack/[^/]+|stage/[^/]+|server/[^/]+)/' },
      archi: { collapsePattern: '^src/([^/]+|registry/client|buildpack/[^/]+|stage/[^/]+|server/[^/]+)/' },
    },
  },
};
