import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../config/app-config';
import { checkCodeGeneration } from './code-generation.check';

describe('checkCodeGeneration', () => {
  let workspace: string;
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: 'unit-test-secret-0123456789',
    LLM_PROVIDERS: 'anthropic,openai',
    ANTHROPIC_API_KEY: 'k',
  });
  const check = (params: Parameters<typeof checkCodeGeneration>[0]) =>
    checkCodeGeneration(params, { config, workspace });

  beforeAll(() => {
    workspace = mkdtempSync(join(tmpdir(), 'conveyor-codegen-check-'));
    mkdirSync(join(workspace, 'src'));
    writeFileSync(join(workspace, 'src', 'a.js'), 'a\n');
  });
  afterAll(() => rmSync(workspace, { recursive: true, force: true }));

  it('accepts a configured provider, a model with it, and existing files', async () => {
    await expect(check({ prompt: 'x' })).resolves.toBeNull();
    await expect(
      check({ prompt: 'x', provider: 'anthropic', model: 'claude-opus-4-1', files: ['src/a.js'] }),
    ).resolves.toBeNull();
  });

  it('refuses a provider that is not configured, saying what to set', async () => {
    await expect(check({ prompt: 'x', provider: 'openai' })).resolves.toBe(
      'params.provider: openai is not configured (set OPENAI_API_KEY and list it in LLM_PROVIDERS; configured: anthropic)',
    );
    await expect(check({ prompt: 'x', provider: 'openai-compatible' })).resolves.toBe(
      'params.provider: openai-compatible is not configured (set OPENAI_COMPATIBLE_BASE_URL and list it in LLM_PROVIDERS; configured: anthropic)',
    );
  });

  it('refuses a model without a provider and files it cannot read', async () => {
    await expect(check({ prompt: 'x', model: 'gpt-5' })).resolves.toBe(
      'params.model needs params.provider (a model id belongs to one provider)',
    );
    await expect(check({ prompt: 'x', files: ['src/a.js', '../x'] })).resolves.toBe(
      'params.files.1 escapes the workspace',
    );
  });
});
