import type { LlmConfig } from '../config/llm.config';

/** Every configured key, longest first, so that a key containing another is masked whole. */
export function secretsOf(config: LlmConfig): string[] {
  return config.providers
    .map((provider) => provider.apiKey)
    .filter((key): key is string => key !== undefined && key.length >= 4)
    .sort((a, b) => b.length - a.length);
}

/** Masks every configured key in a text that may leave the process (errors, logs, results). */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return out;
}
