/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: '<rootDir>/test/helpers/node-environment.js',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': '<rootDir>/test/helpers/transform.js' },
  testTimeout: 120000,
  // onnxruntime and tfjs each want both cores; running test files one at a time keeps timings sane.
  maxWorkers: 1,
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
};
