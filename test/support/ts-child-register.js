// Preloaded (`-r`) by the test child processes: ts-node with SWC as its transpiler. Loading the
// service's module graph takes ~1.3 s of CPU this way instead of ~3.5 s with TypeScript's own
// transpiler, and the suite starts a Conveyor child in most e2e tests.
require('ts-node').register({
  transpileOnly: true,
  swc: true,
  project: require('node:path').resolve(__dirname, '../../tsconfig.json'),
});
