import {
  ConveyorClient,
  ConveyorHttpError,
  ResyncRequiredError,
  TERMINAL_STATUSES,
  UnauthorizedError,
  type Job,
  type JobEvent,
  type JobStatus,
  type JsonValue,
  type KindInfo,
  type Priority,
} from '../../client/src/index.js';

const TOKEN_KEY = 'conveyor.token';

interface PropertySchema {
  type?: string | string[];
  enum?: JsonValue[];
  items?: PropertySchema;
  minimum?: number;
  maximum?: number;
  description?: string;
  default?: JsonValue;
}

interface ObjectSchema {
  properties?: Record<string, PropertySchema>;
  required?: string[];
}

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} missing from the page`);
  return element as T;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string>> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value !== undefined) element.setAttribute(key, value);
  }
  element.append(...children);
  return element;
}

function claims(token: string): { sub: string; roles: string[] } {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const parsed = JSON.parse(json) as { sub?: unknown; roles?: unknown };
    return {
      sub: typeof parsed.sub === 'string' ? parsed.sub : '?',
      roles: Array.isArray(parsed.roles)
        ? parsed.roles.filter((r): r is string => typeof r === 'string')
        : [],
    };
  } catch {
    return { sub: '?', roles: [] };
  }
}

function text(value: JsonValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function messageOf(error: unknown): string {
  if (error instanceof ConveyorHttpError) return error.body.message;
  return error instanceof Error ? error.message : String(error);
}

const STATUS_OF_EVENT: Record<JobEvent['status'], JobStatus> = {
  created: 'queued',
  processing: 'processing',
  progress: 'processing',
  done: 'done',
  error: 'error',
  cancelled: 'cancelled',
};

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

function isAfter(eventId: string, upTo: string | undefined): boolean {
  return upTo === undefined || BigInt(eventId) > BigInt(upTo);
}

class Dashboard {
  private readonly jobs = new Map<string, Job>();
  private kinds: KindInfo[] = [];
  private selected: string | null = null;
  private output: OutputView | null = null;
  private readonly stop = new AbortController();

  constructor(
    private readonly client: ConveyorClient,
    private readonly admin: boolean,
  ) {}

  async start(): Promise<void> {
    const page = await this.client.list({ limit: 50 });
    for (const job of page.items) this.jobs.set(job.id, job);
    this.renderJobs();
    this.kinds = await this.client.kinds();
    this.renderKinds();
    void this.loadProjects();
    if (this.admin) {
      byId('queues-section').hidden = false;
      byId('board-link').hidden = false;
      void this.refreshQueues();
      const timer = setInterval(() => void this.refreshQueues(), 3000);
      this.stop.signal.addEventListener('abort', () => clearInterval(timer));
    }
    byId<HTMLSelectElement>('kind').addEventListener('change', () => this.renderParams());
    byId<HTMLFormElement>('submit-form').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.submit();
    });
    byId('new-project').addEventListener('click', () => void this.newProject());
    void this.live();
  }

  close(): void {
    this.stop.abort();
  }

  /** The caller's events, live; resumed from the last one seen if the stream breaks. */
  private async live(): Promise<void> {
    let last: string | undefined;
    this.client.onTransport = (transport) => {
      byId('transport').textContent = transport === 'socket' ? 'live' : 'live (polling)';
    };
    let resynced = false;
    while (!this.stop.signal.aborted) {
      try {
        const events = this.client.events({ lastEventId: last, signal: this.stop.signal });
        // What happened during the gap the server could no longer replay: read it over REST.
        if (resynced) void this.reload();
        resynced = false;
        for await (const event of events) {
          last = event.eventId;
          await this.apply(event);
        }
      } catch (error) {
        if (error instanceof UnauthorizedError) {
          signOut(messageOf(error));
          return;
        }
        if (error instanceof ResyncRequiredError) {
          last = undefined;
          resynced = true;
          continue;
        }
        byId('transport').textContent = `reconnecting: ${messageOf(error)}`;
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
  }

  private async apply(event: JobEvent): Promise<void> {
    let job = this.jobs.get(event.jobId);
    if (!job || TERMINAL_STATUSES.includes(STATUS_OF_EVENT[event.status])) {
      job = await this.client.get(event.jobId);
    } else {
      job = {
        ...job,
        status: STATUS_OF_EVENT[event.status],
        progress: event.progress,
        message: event.message ?? job.message,
      };
    }
    this.jobs.set(job.id, job);
    this.renderJobs();
    if (this.selected === job.id) {
      this.renderDetail();
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
    if (this.admin) void this.refreshQueues();
  }

  /** After a resync: the jobs and the selected job's output as they are now. */
  private async reload(): Promise<void> {
    const page = await this.client.list({ limit: 50 });
    for (const job of page.items) this.jobs.set(job.id, job);
    this.renderJobs();
    if (this.selected) await this.select(this.selected);
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

  private renderJobs(): void {
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
          if ((event.target as HTMLElement).tagName !== 'BUTTON') void this.select(job.id);
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
        (job) => {
          this.jobs.set(job.id, job);
          this.renderJobs();
        },
        (error: unknown) => {
          button.disabled = false;
          alert(messageOf(error));
        },
      );
    });
    return button;
  }

  /** Shows a job: its stored events' output first, then what arrives live. */
  private async select(id: string): Promise<void> {
    this.selected = id;
    this.renderJobs();
    byId('detail').hidden = false;
    byId('detail-id').textContent = id;
    const view: OutputView = { jobId: id, text: '', upTo: undefined, pending: [] };
    this.output = view;
    this.renderOutput(view);
    this.renderDetail();
    let cursor: string | undefined;
    do {
      const page = await this.client.eventHistory(id, cursor, 500);
      for (const event of page.items) this.follow(view, event);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined && this.output === view);
    for (const event of view.pending ?? []) this.follow(view, event);
    view.pending = null;
    this.renderOutput(view);
    const job = this.jobs.get(id);
    if (job && TERMINAL_STATUSES.includes(job.status)) await this.checkAgainstLog(view);
  }

  private renderDetail(): void {
    const id = this.selected;
    const job = id ? this.jobs.get(id) : undefined;
    if (!id || !job) return;
    const status = byId('detail-status');
    status.textContent = job.status;
    status.className = `status status-${job.status}`;
    byId('detail-message').textContent = job.message ?? '';
    byId('detail-error').textContent = job.error ?? '';
    byId('detail-result').textContent =
      job.result === null ? '' : JSON.stringify(job.result, null, 2);
  }

  private renderKinds(): void {
    const select = byId<HTMLSelectElement>('kind');
    select.replaceChildren(
      ...this.kinds.map((kind) => el('option', { value: kind.name }, kind.name)),
    );
    this.renderParams();
  }

  /** One field per params property, from the kind's JSON Schema. */
  private renderParams(): void {
    const kind = this.kinds.find((k) => k.name === byId<HTMLSelectElement>('kind').value);
    const fieldset = byId('params');
    fieldset.replaceChildren(el('legend', {}, 'params'));
    if (!kind) return;
    const schema = kind.paramsSchema as ObjectSchema;
    const required = new Set(schema.required ?? []);
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      const id = `param-${name}`;
      const hint = [property.description, required.has(name) ? 'required' : 'optional']
        .filter(Boolean)
        .join(' · ');
      fieldset.append(el('label', { for: id }, `${name} `, el('small', {}, hint)));
      fieldset.append(this.field(id, name, property, required.has(name)));
    }
  }

  private field(
    id: string,
    name: string,
    property: PropertySchema,
    required: boolean,
  ): HTMLElement {
    const type = Array.isArray(property.type)
      ? property.type.find((t) => t !== 'null')
      : property.type;
    const common = {
      id,
      name,
      'data-param': name,
      'data-type': type ?? 'json',
      ...(required && { required: '' }),
    };
    const initial = property.default === undefined ? undefined : text(property.default);
    if (property.enum) {
      const options = property.enum.map((value) =>
        el('option', { value: text(value) }, text(value)),
      );
      return el(
        'select',
        common,
        ...(required ? [] : [el('option', { value: '' }, '')]),
        ...options,
      );
    }
    if (type === 'boolean') return el('input', { ...common, type: 'checkbox' });
    if (type === 'integer' || type === 'number') {
      return el('input', {
        ...common,
        type: 'number',
        step: type === 'integer' ? '1' : 'any',
        min: property.minimum === undefined ? undefined : String(property.minimum),
        max: property.maximum === undefined ? undefined : String(property.maximum),
        placeholder: initial,
      });
    }
    if (type === 'string') return el('input', { ...common, type: 'text', placeholder: initial });
    if (type === 'array' && property.items?.type === 'string') {
      return el('textarea', {
        ...common,
        'data-type': 'lines',
        rows: '3',
        placeholder: 'one per line',
      });
    }
    return el('textarea', { ...common, 'data-type': 'json', rows: '3', placeholder: 'JSON' });
  }

  private readParams(): Record<string, JsonValue> {
    const params: Record<string, JsonValue> = {};
    for (const input of byId('params').querySelectorAll<HTMLInputElement>('[data-param]')) {
      const name = input.dataset.param ?? '';
      const type = input.dataset.type;
      if (type === 'boolean') {
        if (input.checked) params[name] = true;
        continue;
      }
      const raw = input.value.trim();
      if (raw === '') continue;
      if (type === 'integer' || type === 'number') params[name] = Number(raw);
      else if (type === 'lines')
        params[name] = raw
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean);
      else if (type === 'json') {
        try {
          params[name] = JSON.parse(raw) as JsonValue;
        } catch {
          throw new Error(`params.${name} is not valid JSON`);
        }
      } else params[name] = raw;
    }
    return params;
  }

  private async submit(): Promise<void> {
    const error = byId('submit-error');
    error.textContent = '';
    try {
      const job = await this.client.submit(byId<HTMLSelectElement>('kind').value, {
        projectId: byId<HTMLInputElement>('project').value.trim(),
        priority: byId<HTMLSelectElement>('priority').value as Priority,
        params: this.readParams(),
      });
      this.jobs.set(job.id, job);
      this.renderJobs();
      await this.select(job.id);
    } catch (failure) {
      error.textContent = messageOf(failure);
    }
  }

  private async loadProjects(): Promise<void> {
    const projects = await this.client.projects();
    byId('projects').replaceChildren(
      ...projects.map((p) => el('option', { value: p.id }, `${p.name} (${p.status})`)),
    );
    const input = byId<HTMLInputElement>('project');
    if (input.value === '' && projects[0]) input.value = projects[0].id;
  }

  private async newProject(): Promise<void> {
    try {
      const project = await this.client.createProject({
        name: `dashboard ${new Date().toISOString()}`,
      });
      byId<HTMLInputElement>('project').value = project.id;
      await this.loadProjects();
    } catch (error) {
      byId('submit-error').textContent = messageOf(error);
    }
  }

  private async refreshQueues(): Promise<void> {
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
            () => this.refreshQueues(),
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

let dashboard: Dashboard | null = null;

function signOut(reason = ''): void {
  dashboard?.close();
  dashboard = null;
  sessionStorage.removeItem(TOKEN_KEY);
  byId('app').hidden = true;
  byId('signin').hidden = false;
  byId('signin-error').textContent = reason;
}

async function signIn(token: string): Promise<void> {
  const client = new ConveyorClient({ baseUrl: '', token });
  try {
    await client.list({ limit: 1 });
  } catch (error) {
    signOut(messageOf(error));
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  const { sub, roles } = claims(token);
  byId('who').textContent = `${sub}${roles.includes('admin') ? ' (admin)' : ''}`;
  byId('signin').hidden = true;
  byId('app').hidden = false;
  dashboard = new Dashboard(client, roles.includes('admin'));
  await dashboard.start();
}

byId<HTMLFormElement>('signin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void signIn(byId<HTMLInputElement>('token').value.trim());
});
byId('signout').addEventListener('click', () => signOut());

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) void signIn(saved);
else signOut();
