// @ts-check
/**
 * `npm run lint`: ESLint 9 with typescript-eslint over src/, workers/, test/
 * and load/. Kept under test/ beside vitest.config.ts because the project's top
 * level is fixed (see README); the script passes it with `--config`.
 *
 * The rule set is modest on purpose: the recommended syntactic rules, plus the
 * typed rules that catch real bugs in async code (a promise nobody awaits, a
 * promise passed where a callback's result is ignored). Rules turned off or
 * relaxed say why.
 */
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const root = fileURLToPath(new URL('..', import.meta.url));

export default tseslint.config(
  {
    // Base path: the project root, whichever directory eslint runs from.
    basePath: root,
    ignores: ['node_modules/**', 'dist/**', 'data/**', '.tmp/**', 'load/peer/**', 'load/k6/**'],
  },
  {
    basePath: root,
    files: ['src/**/*.ts', 'workers/**/*.ts', 'test/**/*.ts', 'load/**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: root },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Typed rules for async code: an unawaited promise loses its error.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // tsc (noUnusedLocals/noUnusedParameters) already reports these, with the same exceptions.
      '@typescript-eslint/no-unused-vars': 'off',
      // Product-id validation matches control characters on purpose (ids must not contain them).
      'no-control-regex': 'off',
    },
  },
  {
    basePath: root,
    files: ['**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { URL: 'readonly', process: 'readonly', console: 'readonly' } },
  },
);
