import { isAfter } from '../../client/src/cursor.js';
import {
  TERMINAL_STATUSES,
  type ConveyorClient,
  type Job,
  type JobEvent,
  type JobStep,
} from '../../client/src/index.js';
import { byId, el } from './dom.js';
import type { JobsTable } from './table.js';

/**
 * The selected job's streamed output: the concatenated `output` of its events up to `upTo`
 * (the current attempt's: a `processing` event starts a new one, as the log does). Live events
 * that arrive while its history is read wait in `pending`; those at or before `upTo` are dropped,
 * so a replay after a reconnect neither repeats nor skips text.
 */
interface OutputView {
  jobId: string;
  text: string;
  upTo: string | undefined;
  pending: JobEvent[] | null;
}

/** The selected job: its status, result and output. */
export class JobDetail {
  private output: OutputView | null = null;

  constructor(
    private readonly client: ConveyorClient,
    private readonly table: JobsTable,
  ) {}

  /** A live event of the selected job, already applied to the table. */
  async update(event: JobEvent, job: Job): Promise<void> {
    this.render();
    const view = this.output;
    if (view?.jobId === job.id) {
      if (view.pending) view.pending.push(event);
      else {
        this.follow(view, event);
        this.renderOutput(view);
      }
      if (!view.pending && TERMINAL_STATUSES.includes(job.status)) {
        await this.checkAgainstLog(view);
      }
    }
  }

  /** Shows a job: its steps, its stored events' output first, then what arrives live. */
  async select(id: string): Promise<void> {
    this.table.selected = id;
    this.table.render();
    byId('detail').hidden = false;
    byId('detail-id').textContent = id;
    const view: OutputView = { jobId: id, text: '', upTo: undefined, pending: [] };
    this.output = view;
    this.renderOutput(view);
    this.render();
    // Its view names its steps; the live feed may already know a newer status than it.
    const read = await this.client.get(id);
    const known = this.table.jobs.get(id);
    this.table.put(known ? { ...known, children: read.children } : read);
    this.render();
    let cursor: string | undefined;
    do {
      const page = await this.client.eventHistory(id, cursor, 500);
      for (const event of page.items) this.follow(view, event);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined && this.output === view);
    for (const event of view.pending ?? []) this.follow(view, event);
    view.pending = null;
    this.renderOutput(view);
    const job = this.table.jobs.get(id);
    if (job && TERMINAL_STATUSES.includes(job.status)) await this.checkAgainstLog(view);
  }

  /** Adds one event's output to the view, once, in eventId order. */
  private follow(view: OutputView, event: JobEvent): void {
    if (event.jobId !== view.jobId || !isAfter(event.eventId, view.upTo)) return;
    view.upTo = event.eventId;
    if (event.status === 'processing') view.text = '';
    if (event.output) view.text += event.output;
  }

  private renderOutput(view: OutputView, log?: string): void {
    if (this.output !== view) return;
    const pre = byId('output');
    pre.textContent = log ?? view.text;
    pre.dataset.source = log === undefined ? 'stream' : 'log';
  }

  /**
   * Once the job has ended, the log is the reference: it also holds what a kind logged without
   * streaming, and the tail past the streaming cap. Shown instead when it differs.
   */
  private async checkAgainstLog(view: OutputView): Promise<void> {
    const log = await this.client.log(view.jobId);
    if (log.content !== view.text) this.renderOutput(view, log.content);
  }

  /** The selected job as the table knows it now. */
  render(): void {
    const id = this.table.selected;
    const job = id ? this.table.jobs.get(id) : undefined;
    if (!id || !job) return;
    this.renderFamily(job);
    const status = byId('detail-status');
    status.textContent = job.status;
    status.className = `status status-${job.status}`;
    byId('detail-message').textContent = job.message ?? '';
    byId('detail-error').textContent = job.error ?? '';
    byId('detail-result').textContent =
      job.result === null ? '' : JSON.stringify(job.result, null, 2);
  }

  /** A step names its parent (a link to it); a parent lists its steps, each a link to its detail. */
  private renderFamily(job: Job): void {
    const parent = job.parentId ? this.table.jobs.get(job.parentId) : undefined;
    byId('detail-parent').hidden = !job.parentId;
    byId('detail-key').textContent = this.table.keys.get(job.id) ?? '';
    const link = byId('detail-parent-link');
    link.textContent = parent ? `${parent.kind} ${parent.id}` : (job.parentId ?? '');
    link.onclick = (event) => {
      event.preventDefault();
      if (job.parentId) void this.select(job.parentId);
    };
    const known = new Map(this.table.stepsOf(job.id).map((step) => [step.id, step]));
    // The view's list, with the feed's newer statuses, and steps that began since it was read.
    const steps: JobStep[] = (job.children ?? []).map((step) => ({
      ...step,
      status: known.get(step.id)?.status ?? step.status,
    }));
    for (const { id, kind, status } of known.values()) {
      if (!steps.some((step) => step.id === id)) {
        steps.push({ id, key: this.table.keys.get(id) ?? '', kind, status });
      }
    }
    byId('detail-steps').hidden = steps.length === 0;
    byId('steps')
      .querySelector('tbody')
      ?.replaceChildren(
        ...steps.map((step) => {
          const row = el(
            'tr',
            { 'data-step': step.id, 'data-status': step.status },
            el('td', {}, step.key),
            el('td', {}, step.kind),
            el('td', { class: `status status-${step.status}` }, step.status),
          );
          row.addEventListener('click', () => void this.select(step.id));
          return row;
        }),
      );
  }
}
