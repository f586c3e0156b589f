# syntax=docker/dockerfile:1
# Build stage: install dependencies (native addons compile here, with the toolchain), then train the default pack
# so the image starts answering at once.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run train -- --log-level warn && npm prune --omit=dev

# Runtime stage: no compiler, no dev dependencies, an unprivileged user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production KEFU_HOST=0.0.0.0 KEFU_DB_PATH=/app/data/kefu.sqlite
WORKDIR /app
COPY --from=build --chown=node:node /app /app
RUN mkdir -p /app/data && chown node:node /app/data
# Conversations and the generated token secret live here; mount a volume so they survive the container.
VOLUME ["/app/data"]
USER node
EXPOSE 3000
# node itself, as npm start runs it (tests/app/server-script.test.ts keeps the two the same), not npm start: npm and
# its shell would get docker stop's SIGTERM and exit, killing node before it finished the messages in flight.
CMD ["node", "--max-semi-space-size=64", "--import", "tsx", "scripts/server.ts"]
