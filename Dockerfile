FROM node:20-bookworm-slim
WORKDIR /app
# git for project workspaces, bubblewrap to sandbox test runs
RUN apt-get update && apt-get install -y --no-install-recommends git bubblewrap ca-certificates openssh-client \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY prisma.config.ts ./
RUN npm ci --no-audit --no-fund --include=dev
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY client ./client
COPY web ./web
RUN npm run build
RUN mkdir -p /data && chown node /data
ENV DATA_DIR=/data
USER node
EXPOSE 3000
# Migrations are applied at start-up (advisory-locked, so several replicas may start at once).
CMD ["node", "dist/main.js"]
