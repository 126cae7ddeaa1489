import { ConveyorClient } from '../../client/src/index.js';
import { QueuesPanel } from './admin.js';
import { JobDetail } from './detail.js';
import { byId, messageOf } from './dom.js';
import { Feed } from './feed.js';
import { SubmitForm } from './submit-form.js';
import { JobsTable } from './table.js';
import { UsagePanel } from './usage.js';

const TOKEN_KEY = 'conveyor.token';

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

/** One signed-in session: the page's parts, wired to one client, until sign-out. */
class Dashboard {
  private readonly table: JobsTable;
  private readonly detail: JobDetail;
  private readonly form: SubmitForm;
  private readonly queues: QueuesPanel | null;
  private readonly feed: Feed;
  private readonly usage: UsagePanel;
  private readonly stop = new AbortController();

  constructor(client: ConveyorClient, admin: boolean) {
    this.table = new JobsTable(client, (id) => void this.detail.select(id));
    this.detail = new JobDetail(client, this.table);
    this.form = new SubmitForm(client, async (job) => {
      this.table.put(job);
      await this.detail.select(job.id);
    });
    this.queues = admin ? new QueuesPanel(client) : null;
    this.feed = new Feed(client, this.table, this.detail, this.queues, signOut);
    this.usage = new UsagePanel(client);
  }

  async start(): Promise<void> {
    await this.table.load();
    await this.form.start();
    this.queues?.start(this.stop.signal);
    this.usage.start(this.stop.signal);
    void this.feed.live(this.stop.signal);
  }

  close(): void {
    this.stop.abort();
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
