// Generates the Prisma client offline (README.md#database-and-migrations). The CLI insists on a
// native schema engine even for `generate`, which needs none; any existing file satisfies it.
const { execFileSync } = require('node:child_process');

execFileSync(process.execPath, [require.resolve('prisma/build/index.js'), 'generate'], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || process.execPath,
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
    CHECKPOINT_DISABLE: '1',
  },
});
