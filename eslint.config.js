// Lint guards the architecture as much as the style. Each restriction below says why it exists.
import tseslint from 'typescript-eslint';

/** Build a no-restricted-imports rule from {pattern, why} pairs. */
const forbid = (...rules) => ['error', { patterns: rules.map(([group, message]) => ({ group, message })) }];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'bench/out/**', '**/*.gen.json', 'test/fixtures/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      // Typed throughout: `unknown` at the edges, parsed once into types (STYLE.md §3).
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // process.env is read in one module (src/core/env.ts) so that behaviour arrives as values (STYLE.md §10).
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read the environment in src/core/env.ts and pass values in.' }],
    },
  },
  {
    files: ['src/core/env.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', '**/*.test.ts'],
    // The env module is the one reader; tests, benchmarks and scripts set up child-process environments.
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['src/discovery/translate/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      // Translation is a pure function of (proxy, snapshot): no ingest, no serving, no I/O (DESIGN.md §3).
      'no-restricted-imports': forbid(
        [['**/config/store/**', '**/registry/**', '**/discovery/serve/**'], 'translate must not depend on ingest or serving: take what you need from the snapshot.'],
        [['node:fs', 'node:fs/*', 'node:net', 'node:http', 'node:http2', 'node:child_process', 'node:dns'], 'translate is pure: no I/O.'],
      ),
    },
  },
  {
    files: ['src/proxy/**/*.ts', 'src/agent/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      // The data plane must run without the control plane's code in memory: it talks to it only over xDS and the CSR API.
      'no-restricted-imports': forbid(
        [['**/discovery/**', '**/registry/**', '**/config/store/**', '**/ca/server/**', '**/cli/**'], 'the proxy talks to the control plane only over xDS and the CA API; share types via src/core or src/xds.'],
      ),
      // An ES import of node:http evaluates http.WebSocket, which loads Node's bundled undici: ~4 MB resident in every
      // sidecar (bench/proxy/RESULTS.md, "Memory, session 2"). Types are free; values come from getBuiltinModule.
      '@typescript-eslint/no-restricted-imports': ['error', { paths: [{ name: 'node:http', allowTypeImports: true, message: "use process.getBuiltinModule('node:http') (an ES import loads Node's bundled undici: +4 MB per sidecar)" }] }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      // src/core is shared by both planes (e.g. core/grpc serves the proxy's xDS client and the agent's CSR call).
      'no-restricted-imports': forbid([['**/config/**', '**/registry/**', '**/discovery/**', '**/ca/**', '**/proxy/**', '**/agent/**', '**/cli/**'], 'src/core depends on nothing above it: both planes use it.']),
    },
  },
  {
    files: ['src/config/**/*.ts', 'src/registry/**/*.ts', 'src/discovery/**/*.ts', 'src/ca/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      // The control plane does not embed the proxy; nothing below the CLI depends on the CLI.
      'no-restricted-imports': forbid([['**/proxy/**', '**/agent/**', '**/cli/**'], 'the control plane must not depend on the proxy or the CLI.']),
    },
  },
);
