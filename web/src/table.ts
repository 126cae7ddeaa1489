import type { ConveyorClient, Job } from '../../client/src/index.js';
import { byId, el, messageOf } from './dom.js';

/**
 * The caller's jobs, newest first, each with its steps (docs/child-jobs.md) nested beneath it,
 * oldest first, and their cancel and retry buttons. Only jobs without a parent are top-level rows.
 */
export class JobsTable {
  /** Every job known to the page: submitted ones and their steps. */
  readonly jobs = new Map<string, Job>();
  /** A step's key among its parent's steps, from the parent's view (lists do not carry it). */
  readonly keys = new Map<string, string>();
  /** The job shown in the detail, highlighted here. */
  selected: string | null = null;

  constructor(
    private readonly client: ConveyorClient,
    private readonly onSelect: (id: string) => void,
  ) {}

  /** The 50 newest jobs as they are now, and the parents of the steps among them. */
  async load(): Promise<void> {
    const page = await this.client.list({ limit: 50 });
    this.put(...page.items);
    // A parent is older than its steps, so only steps whose parent fell past the page miss it.
    for (const job of page.items) await this.adopt(job);
  }

  put(...jobs: Job[]): void {
    for (const job of jobs) {
      // Only the job view names the steps: an update from a list or an action keeps them.
      this.jobs.set(job.id, { ...job, children: job.children ?? this.jobs.get(job.id)?.children });
      for (const step of job.children ?? []) this.keys.set(step.id, step.key);
    }
    this.render();
  }

  /** Reads a step's parent (its view names its steps' keys), then the parent's own if unknown. */
  async adopt(job: Job, refresh = false): Promise<void> {
    let parentId = job.parentId;
    while (parentId && (refresh || !this.jobs.has(parentId))) {
      const parent = await this.client.get(parentId);
      this.put(parent);
      parentId = parent.parentId;
      refresh = false;
    }
  }

  /** A job's steps, oldest first. */
  stepsOf(id: string): Job[] {
    return [...this.jobs.values()]
      .filter((job) => job.parentId === id)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  render(): void {
    const body = byId('jobs').querySelector('tbody');
    if (!body) return;
    const top = [...this.jobs.values()]
      .filter((job) => job.parentId === null)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    body.replaceChildren(...top.flatMap((job) => this.rows(job, 0)));
  }

  /** The job's row, then its steps' (and theirs), indented by depth. */
  private rows(job: Job, depth: number): HTMLTableRowElement[] {
    const steps = this.stepsOf(job.id);
    const kind = el('td', { class: 'kind' });
    if (depth > 0) kind.append(el('span', { class: 'step-key' }, this.keys.get(job.id) ?? ''), ' ');
    kind.append(job.kind);
    if (steps.length > 0) {
      const done = steps.filter((step) => step.status === 'done').length;
      kind.append(' ', el('small', { class: 'muted' }, `${done}/${steps.length} steps`));
    }
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
        'data-parent': job.parentId ?? undefined,
        class: [depth > 0 ? 'step' : '', job.id === this.selected ? 'selected' : '']
          .filter(Boolean)
          .join(' '),
        style: depth > 0 ? `--depth: ${depth}` : undefined,
      },
      kind,
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
    return [row, ...steps.flatMap((step) => this.rows(step, depth + 1))];
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
