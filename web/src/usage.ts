import type { ConveyorClient, ModelUsage } from '../../client/src/index.js';
import { byId, el, messageOf } from './dom.js';

/** The caller's LLM tokens per provider and model: today (UTC) and over the last 30 days. */
export class UsagePanel {
  constructor(private readonly client: ConveyorClient) {}

  /** Loads the panel and refreshes it every 30 s until the signal aborts. */
  start(signal: AbortSignal): void {
    void this.refresh();
    const timer = setInterval(() => void this.refresh(), 30_000);
    signal.addEventListener('abort', () => clearInterval(timer));
  }

  async refresh(): Promise<void> {
    const body = byId('usage').querySelector('tbody');
    if (!body) return;
    try {
      const usage = await this.client.usage();
      const key = (entry: ModelUsage) => `${entry.provider}/${entry.model}`;
      const today = new Map<string, number>();
      for (const day of usage.days) {
        if (day.day === usage.to) today.set(key(day), day.totalTokens);
      }
      byId('usage-error').textContent = '';
      byId('usage-empty').hidden = usage.models.length > 0;
      body.replaceChildren(
        ...usage.models.map((model) =>
          el(
            'tr',
            {
              'data-model': key(model),
              'data-today': String(today.get(key(model)) ?? 0),
              'data-total': String(model.totalTokens),
            },
            el('td', {}, key(model)),
            el('td', {}, (today.get(key(model)) ?? 0).toLocaleString('en')),
            el('td', {}, model.totalTokens.toLocaleString('en')),
          ),
        ),
      );
    } catch (error) {
      byId('usage-error').textContent = messageOf(error);
    }
  }
}
