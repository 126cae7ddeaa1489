-- A project's own GitHub token, AES-256-GCM sealed (docs/credentials.md): never the plain token.
ALTER TABLE "Project" ADD COLUMN "githubTokenSecret" TEXT;
ALTER TABLE "Project" ADD COLUMN "githubTokenKeyId" TEXT;
