# hookflow image: the API, the worker and the Temporal CLI (dev server) in one image.
FROM golang:1.26-bookworm AS temporal-cli
RUN GOBIN=/out go install github.com/temporalio/cli/cmd/temporal@v1.5.1

FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    HOOKFLOW_DATA_DIR=/data \
    HOOKFLOW_TEMPORAL_CLI=/usr/local/bin/temporal
COPY --from=temporal-cli /out/temporal /usr/local/bin/temporal
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The pages' templates, read at run time from the repository root (see src/api/pages/views.ts).
COPY views ./views
COPY package.json ./
VOLUME /data
EXPOSE 3000
CMD ["node", "dist/api/main.js"]
