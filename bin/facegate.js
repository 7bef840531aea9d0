#!/usr/bin/env node
// Runs the TypeScript sources through tsx in a development checkout, the compiled build otherwise.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
let tsx = false;
try {
  require.resolve('tsx/cjs');
  tsx = existsSync(join(root, 'src', 'cli.ts'));
} catch {
  tsx = false;
}
if (tsx) {
  require('tsx/cjs');
  require(join(root, 'src', 'cli.ts'));
} else {
  require(join(root, 'dist', 'src', 'cli.js'));
}
