/** What the core needs of a project: whose it is, whether it is ready, where its workspace is. */
export interface JobProject {
  id: string;
  status: string;
  workspacePath: string;
}

/** The core's port to the projects above it; the projects module binds its repository here. */
export abstract class JobProjects {
  abstract findForOwner(id: string, ownerId: string): Promise<JobProject | null>;
  abstract findById(id: string): Promise<JobProject | null>;
}
