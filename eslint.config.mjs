// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/, bottom to top. A folder imports from its own level and the levels below it,
 * never from one above: the core knows no HTTP, project or kind, whatever it needs from above it
 * owns as a port (core/job-projects.ts). The top level (entry points and root files) is free.
 * Specs keep the rule too: a unit spec tests its own layer.
 */
const LAYERS = [
  ['generated', 'config'],
  ['common'],
  ['database', 'redis', 'sandbox', 'auth'],
  ['core'],
  ['llm', 'projects', 'search'],
  ['kinds'],
  ['http', 'realtime', 'mcp', 'operations', 'metrics', 'health', 'cli'],
];
const ROOT_FILES = ['app.module', 'app.factory', 'main', 'job-kinds'];

/** @param {string} name */
const escape = (name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One block per folder below the top: no relative (or src/) import of a folder or root file above. */
const layerRules = LAYERS.slice(0, -1).flatMap((level, index) => {
  const above = [...LAYERS.slice(index + 1).flat(), ...ROOT_FILES];
  return level.map((folder) => ({
    files: [`src/${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^(?:(?:\\.\\./)+|(?:\\./)?src/)(?:${above.map(escape).join('|')})(?:/|$)`,
              message: `layers import downwards only: src/${folder} may not import ${above.join(', ')} (README "Architecture").`,
            },
          ],
        },
      ],
    },
  }));
});

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'dist-bench/**',
      'bench/results/**',
      'node_modules/**',
      'coverage/**',
      'src/generated/**',
      'client/dist/**',
      'test-output/**',
      '.data/**',
      '*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/require-await': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/explicit-module-boundary-types': 'off',
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'commonjs',
      globals: {
        jest: 'readonly',
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
      },
    },
    rules: {
      ...tseslint.configs.disableTypeChecked.rules,
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['test/**/*.ts', '**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  ...layerRules,
);
