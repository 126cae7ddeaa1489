import { startStack, tokenFor, type TestStack } from '../support/app';
import { AdminApi, Api, expectError, uniqueUser } from '../support/api';
import { echoKind, otherKind } from '../support/test-kinds';
import { waitFor } from '../support/wait';

const UI = '/admin/queues/ui';

interface BoardQueues {
  queues: { name: string; readOnlyMode: boolean }[];
}

/** bull-board at /admin/queues/ui: admins only, signed in once through an HttpOnly cookie, read-only. */
describe('queue board (bull-board)', () => {
  let stack: TestStack;
  let adminCookie: string;

  beforeAll(async () => {
    stack = await startStack('board', [echoKind, otherKind]);
  });
  afterAll(() => stack.close());

  async function signIn(token: unknown) {
    return stack.http().post(`${UI}/session`).send({ token });
  }

  it('anonymous: the page is the sign-in form, the API answers 401, no board data', async () => {
    const page = await stack.http().get(`${UI}/`);
    expect(page.status).toBe(401);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('Sign in with an admin token');
    expect(page.text).not.toMatch(/echo|other/);
    expectError(await stack.http().get(`${UI}/api/queues`), 401, /sign in/);
  });

  it('a non-admin token cannot sign in nor read the board, by cookie or header', async () => {
    const user = tokenFor(uniqueUser('bob'));
    const res = await signIn(user);
    expectError(res, 403, /admin role/);
    expect(res.headers['set-cookie']).toBeUndefined();
    expectError(
      await stack.http().get(`${UI}/api/queues`).set('Cookie', `conveyor_board=${user}`),
      403,
    );
    expectError(
      await stack.http().get(`${UI}/api/queues`).set('Authorization', `Bearer ${user}`),
      403,
    );
    const page = await stack.http().get(`${UI}/`).set('Cookie', `conveyor_board=${user}`);
    expect(page.status).toBe(403);
    expect(page.text).toContain('Sign in with an admin token');
  });

  it('bad sign-in bodies answer 400 naming the token; a forged token 401', async () => {
    for (const token of [undefined, '', 42, ['x'], 'x'.repeat(9000)]) {
      expectError(await signIn(token), 400, /token must be a non-empty string/);
    }
    expectError(await signIn('not.a.jwt'), 401, /invalid/);
    expectError(await signIn(tokenFor('root', ['admin'], -10)), 401, /expired/);
  });

  it('an admin signs in once: an HttpOnly SameSite cookie, then the board lists every kind', async () => {
    const res = await signIn(tokenFor('root', ['admin']));
    expect(res.status).toBe(204);
    const [cookie] = res.headers['set-cookie'] as unknown as string[];
    expect(cookie).toMatch(
      /^conveyor_board=[\w.-]+; Path=\/admin\/queues\/ui; Max-Age=\d+; HttpOnly; SameSite=Strict$/,
    );
    expect(res.headers.location).toBeUndefined();
    adminCookie = cookie.split(';')[0]!;

    const page = await stack.http().get(`${UI}/`).set('Cookie', adminCookie).expect(200);
    expect(page.text).toContain('<div id="root">');
    const api = await stack.http().get(`${UI}/api/queues`).set('Cookie', adminCookie).expect(200);
    const { queues } = api.body as BoardQueues;
    expect(queues.map((q) => q.name).sort()).toEqual(['echo', 'other']);
    expect(queues.every((q) => q.readOnlyMode)).toBe(true);
  });

  it('is read-only: retry, removal and pause are refused and the Job row stays as it was', async () => {
    const user = new Api(stack, uniqueUser('carol'));
    const failed = await user.submitOk('echo', { text: 'x', fail: 'fatal' });
    await user.waitForStatus(failed.id, ['error']);
    const put = (path: string) =>
      stack.http().put(`${UI}/api/queues/echo${path}`).set('Cookie', adminCookie);
    expect((await put(`/${failed.id}/retry`)).status).toBe(405);
    expect((await put(`/${failed.id}/clean`)).status).toBe(405);
    expect((await put('/pause')).status).toBe(405);
    expect((await put('/retry/failed')).status).toBe(405);
    expect(await user.job(failed.id)).toMatchObject({ status: 'error', attempts: 1 });
    // BullMQ settles its failed entry just after the row: wait for it, then it must stay.
    const admin = new AdminApi(stack);
    await waitFor('the failed entry', async () => (await admin.stats('echo')).failed === 1);
    expect((await put(`/${failed.id}/retry`)).status).toBe(405);
    expect(await admin.stats('echo')).toMatchObject({ paused: false, failed: 1, waiting: 0 });
    expect(await user.job(failed.id)).toMatchObject({ status: 'error', attempts: 1 });
  });

  it('sign out clears the cookie', async () => {
    const res = await stack.http().post(`${UI}/session/end`).set('Cookie', adminCookie).expect(204);
    expect((res.headers['set-cookie'] as unknown as string[])[0]).toMatch(
      /^conveyor_board=; Path=\/admin\/queues\/ui; Max-Age=0; HttpOnly/,
    );
  });
});
