/** Two projects: unit specs beside the code, e2e/integration specs under test/. */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }];
/** The tsconfig path aliases, as `nest build` rewrites them. */
const moduleNameMapper = { '^@(common|config|database|protocols)/(.*)$': '<rootDir>/src/$1/$2' };
module.exports = {
  // Applies to hooks too; the e2e suites (real PostgreSQL, tgtd, zfs-fuse, QEMU) need it.
  testTimeout: 120000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      rootDir: '.',
      testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/web/src/**/*.spec.ts'],
      transform: { '^.+\\.ts$': tsJest },
      moduleNameMapper,
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      rootDir: '.',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      transform: { '^.+\\.ts$': tsJest },
      moduleNameMapper,
      globalSetup: '<rootDir>/test/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
    },
  ],
};
