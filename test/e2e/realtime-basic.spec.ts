import { startStack, tokenFor, type TestStack } from '../support/app';
import { baseUrl, connectSocket, type TestSocket } from '../support/socket';
import { echoKind } from '../support/test-kinds';
import { waitFor } from '../support/wait';

describe('live events over Socket.IO', () => {
  let stack: TestStack;
  let url: string;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    stack = await startStack('realtime', [echoKind]);
    url = baseUrl(stack.app.getHttpServer());
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await stack.close();
  });

  async function submit(user: string, params: object) {
    const res = await stack
      .http()
      .post('/api/v1/jobs/echo')
      .set('Authorization', `Bearer ${tokenFor(user)}`)
      .send({ projectId: 'p', params })
      .expect(202);
    return res.body.id as string;
  }

  it("delivers a job's events to its owner only, matching the polled history", async () => {
    const alice = await connectSocket(url, { token: tokenFor('alice') });
    const bob = await connectSocket(url, { token: tokenFor('bob') });
    sockets.push(alice, bob);
    const aliceJob = await submit('alice', { text: 'a', steps: 2 });
    const bobJob = await submit('bob', { text: 'b', steps: 1 });
    await waitFor('alice done', async () => alice.events.find((e) => e.name === 'echo:done'));
    await waitFor('bob done', async () => bob.events.find((e) => e.name === 'echo:done'));
    expect(alice.events.every((e) => e.jobId === aliceJob)).toBe(true);
    expect(bob.events.every((e) => e.jobId === bobJob)).toBe(true);
    expect(alice.events.map((e) => e.name)).toEqual([
      'echo:created',
      'echo:processing',
      'echo:progress',
      'echo:progress',
      'echo:done',
    ]);
    const polled = await stack
      .http()
      .get(`/api/v1/jobs/${aliceJob}/events`)
      .set('Authorization', `Bearer ${tokenFor('alice')}`)
      .expect(200);
    expect(alice.events.map(({ name: _name, ...view }) => view)).toEqual(polled.body.items);
  });

  it('refuses a connection without a valid token, saying why', async () => {
    await expect(connectSocket(url, {})).rejects.toThrow('unauthorized: auth.token is required');
    await expect(connectSocket(url, { token: 'nonsense' })).rejects.toThrow(
      'unauthorized: token is invalid',
    );
    await expect(connectSocket(url, { token: tokenFor('alice', [], -10) })).rejects.toThrow(
      'unauthorized: token expired',
    );
  });

  it('resumes after a disconnect with exactly the missed events, in order', async () => {
    const first = await connectSocket(url, { token: tokenFor('carol') });
    const jobId = await submit('carol', { text: 'c', steps: 20, stepMs: 20 });
    await waitFor('some progress', async () => first.events.length >= 4);
    first.close();
    const seen = [...first.events];
    const last = seen.at(-1)!.eventId;
    const second = await connectSocket(url, { token: tokenFor('carol'), lastEventId: last });
    sockets.push(second);
    await waitFor('done after resume', async () =>
      second.events.find((e) => e.name === 'echo:done'),
    );
    const all = [...seen, ...second.events].map((e) => e.eventId);
    const polled = await stack
      .http()
      .get(`/api/v1/jobs/${jobId}/events?limit=1000`)
      .set('Authorization', `Bearer ${tokenFor('carol')}`)
      .expect(200);
    expect(all).toEqual(polled.body.items.map((e: { eventId: string }) => e.eventId));
  });
});
