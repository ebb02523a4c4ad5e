// @ts-check
/**
 * ESLint flat config: typescript-eslint's type-aware recommended rules, Prettier owning all formatting, and the
 * layering rules of the code base (import-x/no-restricted-paths + no-restricted-imports):
 *   a) src/protocols/** is framework-free: no @nestjs/*, no typeorm, nothing from src/modules, src/database, src/config;
 *   b) src/common/** does not depend on feature modules (src/modules/**);
 *   c) a module reaches another module's entities only through that module's public index.ts, never by importing
 *      `src/modules/<other>/**\/*.entity.ts` directly (unit specs and test/ are exempt).
 * The module list for (c) is read from src/modules at lint time, so new or renamed modules need no config change.
 */
import fs from 'node:fs';
import path from 'node:path';
import { defineConfig, globalIgnores } from 'eslint/config';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import { importX, createNodeResolver } from 'eslint-plugin-import-x';

const root = import.meta.dirname;
const modulesDir = path.join(root, 'src/modules');
const modules = fs.existsSync(modulesDir)
  ? fs
      .readdirSync(modulesDir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
  : [];

/** (c): one zone per module B: files of every other module may not import B's *.entity files. */
const entityZones = modules.map((b) => ({
  target: `src/modules/!(${b})/**/*`,
  from: `src/modules/${b}/**/*.entity.{ts,js}`,
  message: `Import entities of another module through its public index (src/modules/${b}/index.ts), not directly.`,
}));

export default defineConfig(
  globalIgnores(['dist/**', 'node_modules/**', 'native/**', 'coverage/**', 'data/**', '.tmp/**', 'test-artifacts/**', 'web/src/api/schema.d.ts']),
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: root },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json', '.node'] })],
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // Tuned off / relaxed (noise for this code base):
      // - `async` without `await` is deliberate: it makes a synchronous throw a rejection and satisfies
      //   Promise-returning interfaces (drivers, adapters, fakes).
      '@typescript-eslint/require-await': 'off',
      // - Static mappers (`rows.map(XDto.from)`) do not use `this`; only instance methods are a hazard.
      '@typescript-eslint/unbound-method': ['error', { ignoreStatic: true }],
      // - The codecs compare numbers read off the wire with numeric enums (`op !== BootpOp.REQUEST`) by design.
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
    },
  },
  {
    // Tests read JSON bodies (supertest `res.body`, the lab's API client) and jest's asymmetric matchers, all typed
    // `any`; the no-unsafe-* family would flag nearly every assertion there. Production code keeps them.
    files: ['test/**/*.ts', '**/*.spec.ts', '**/__fixtures__/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // `expect(mock.method).toHaveBeenCalled()` passes methods unbound on purpose.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // The generated-client check's program: its types come from openapi-typescript's output at test time; here they
    // are the stub's `any` (test/contract/__fixtures__/dls-api.stub.d.ts), which these two rules would flag.
    files: ['test/contract/__fixtures__/**/*.ts'],
    rules: {
      '@typescript-eslint/no-redundant-type-constituents': 'off',
      '@typescript-eslint/no-duplicate-type-constituents': 'off',
    },
  },
  {
    // Plain JS (jest config, child-process fixtures) is not in the TS program.
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module' },
  },

  // ---- layering ----
  {
    files: ['src/protocols/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@nestjs/*', 'typeorm', 'typeorm/*'], message: 'src/protocols is framework-free: no Nest, no TypeORM.' },
            // The path aliases (tsconfig `paths`) are not resolved by the node resolver, so name them here.
            { group: ['@config/*', '@database/*'], message: 'src/protocols may not depend on modules, database or config.' },
          ],
        },
      ],
      'import-x/no-restricted-paths': [
        'error',
        {
          basePath: root,
          zones: [
            {
              target: 'src/protocols',
              from: ['src/modules', 'src/database', 'src/config'],
              message: 'src/protocols may not depend on modules, database or config.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/common/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          basePath: root,
          zones: [{ target: 'src/common', from: 'src/modules', message: 'src/common may not depend on feature modules.' }],
        },
      ],
    },
  },
  {
    files: ['src/modules/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: entityZones.length ? { 'import-x/no-restricted-paths': ['error', { basePath: root, zones: entityZones }] } : {},
  },

  prettier,
);
