import type { ConveyorClient } from '../../client/src/index.js';
import { byId, el, messageOf } from './dom.js';

/** Admins: queue counts per kind with pause/resume, and the link to the queue board. */
export class QueuesPanel {
  constructor(private readonly client: ConveyorClient) {}

  /** Shows the panel and refreshes it every 3 s until the signal aborts. */
  start(signal: AbortSignal): void {
    byId('queues-section').hidden = false;
    byId('board-link').hidden = false;
    void this.refresh();
    const timer = setInterval(() => void this.refresh(), 3000);
    signal.addEventListener('abort', () => clearInterval(timer));
  }

  async refresh(): Promise<void> {
    const body = byId('queues').querySelector('tbody');
    if (!body) return;
    const stats = await this.client.queues();
    body.replaceChildren(
      ...stats.map((queue) => {
        const toggle = el(
          'button',
          { type: 'button', class: 'secondary', 'data-queue': queue.kind },
          queue.paused ? 'Resume' : 'Pause',
        );
        toggle.addEventListener('click', () => {
          const action = queue.paused
            ? this.client.resumeQueue(queue.kind)
            : this.client.pauseQueue(queue.kind);
          void action.then(
            () => this.refresh(),
            (error: unknown) => alert(messageOf(error)),
          );
        });
        return el(
          'tr',
          { 'data-kind': queue.kind, 'data-paused': String(queue.paused) },
          el('td', {}, queue.kind),
          el('td', {}, String(queue.waiting + queue.prioritized + queue.delayed)),
          el('td', {}, String(queue.active)),
          el('td', {}, String(queue.failed)),
          el('td', {}, toggle),
        );
      }),
    );
  }
}
