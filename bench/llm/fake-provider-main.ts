/** The loopback provider of bench:llm, in a process of its own so its pacing is nobody's load. */
import { startFakeLlm } from '../../test/support/fake-llm/fake-llm-server';

const [count, intervalMs] = process.argv.slice(2).map(Number);
const tokens = Array.from({ length: count }, (_, i) => `t${String(i).padStart(6, '0')} `);

void startFakeLlm('openai-chat', { tokens, tokenDelayMs: intervalMs }).then((server) => {
  process.stdout.write(`fake provider ready at ${server.baseURL}\n`);
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
});
