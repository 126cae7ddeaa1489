import type { Api } from './api';
import { waitFor } from './wait';

/** Creates a project of the user's from a repository and waits for its clone: the project id. */
export async function createReadyProject(api: Api, name: string, repoUrl: string): Promise<string> {
  const res = await api.post('/projects', { name, repoUrl });
  expect({ status: res.status, body: res.body as unknown }).toMatchObject({ status: 201 });
  const id = (res.body as { id: string }).id;
  await waitFor(`project ${id} to be ready`, async () => {
    const body = (await api.get(`/projects/${id}`)).body as { status: string };
    if (body.status === 'error') throw new Error(`clone failed: ${JSON.stringify(body)}`);
    return body.status === 'ready';
  });
  return id;
}
