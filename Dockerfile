# hookflow's production image: the API (default command) and the worker (`node dist/worker/main.js`).
# Temporal and PostgreSQL run in their own containers (docker-compose.yml).

# Build: every dependency (TypeScript, esbuild), then the compiled code, workflow bundle and assets.
FROM node:20.19.5-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY client ./client
RUN npm run build

# Production: dependencies without dev ones (better-sqlite3 and argon2 built here, the compilers
# removed in the same layer), the build output and the page templates. No test or bench code.
FROM node:20.19.5-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    HOOKFLOW_DATA_DIR=/data \
    HOOKFLOW_API_HOST=0.0.0.0
COPY package.json package-lock.json ./
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
  && npm ci --omit=dev \
  && npm cache clean --force \
  && apt-get purge -y python3 make g++ && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
COPY --from=build /app/dist ./dist
# The pages' templates, read at run time from the repository root (see src/api/pages/views.ts).
COPY views ./views
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 3000
# Liveness of the API; the worker's compose service checks its metrics endpoint instead.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=6 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HOOKFLOW_API_PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The flags of src/api/node-flags.ts (the worker's service passes those of src/worker/node-flags.ts).
CMD ["node", "--max-semi-space-size=8", "--heap-growing-percent=50", "dist/api/main.js"]
