import type { ConveyorClient, Job } from '../../client/src/index.js';
import { byId, el, messageOf } from './dom.js';

/** The caller's jobs, newest first, with their cancel and retry buttons. */
export class JobsTable {
  readonly jobs = new Map<string, Job>();
  /** The job shown in the detail, highlighted here. */
  selected: string | null = null;

  constructor(
    private readonly client: ConveyorClient,
    private readonly onSelect: (id: string) => void,
  ) {}

  /** The 50 newest jobs, as they are now. */
  async load(): Promise<void> {
    const page = await this.client.list({ limit: 50 });
    this.put(...page.items);
  }

  put(...jobs: Job[]): void {
    for (const job of jobs) this.jobs.set(job.id, job);
    this.render();
  }

  render(): void {
    const body = byId('jobs').querySelector('tbody');
    if (!body) return;
    const jobs = [...this.jobs.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    body.replaceChildren(
      ...jobs.map((job) => {
        const actions = el('td');
        if (job.status === 'queued' || job.status === 'processing') {
          actions.append(this.button('Cancel', () => this.client.cancel(job.id), 'cancel'));
        }
        if (job.status === 'error') {
          actions.append(this.button('Retry', () => this.client.retry(job.id), 'retry'));
        }
        const row = el(
          'tr',
          {
            'data-job': job.id,
            'data-status': job.status,
            class: job.id === this.selected ? 'selected' : '',
          },
          el('td', {}, job.kind),
          el('td', { class: `status status-${job.status}` }, job.status),
          el(
            'td',
            {},
            el('progress', { max: '100', value: String(job.progress) }),
            ` ${job.progress}%`,
          ),
          el('td', {}, job.error ?? job.message ?? ''),
          el('td', { class: 'muted' }, new Date(job.createdAt).toLocaleTimeString()),
          actions,
        );
        row.addEventListener('click', (event) => {
          if ((event.target as HTMLElement).tagName !== 'BUTTON') this.onSelect(job.id);
        });
        return row;
      }),
    );
  }

  private button(label: string, action: () => Promise<Job>, name: string): HTMLButtonElement {
    const button = el('button', { type: 'button', class: 'secondary', 'data-action': name }, label);
    button.addEventListener('click', () => {
      button.disabled = true;
      action().then(
        (job) => this.put(job),
        (error: unknown) => {
          button.disabled = false;
          alert(messageOf(error));
        },
      );
    });
    return button;
  }
}
