# syntax=docker/dockerfile:1
# watsonx-openai-proxy: the TypeScript is compiled in a builder stage; the runtime image holds only
# production dependencies and dist/, and runs as the unprivileged `node` user.
#
#   docker build -t watsonx-openai-proxy .
#   docker run -p 8000:8000 --env-file .env watsonx-openai-proxy
#
# NODE_ENV=production (below) makes the gateway refuse to start without IBM credentials
# (IBM_CLOUD_API_KEY and WATSONX_PROJECT_ID or WATSONX_SPACE_ID), unless WATSONX_SIMULATOR=true.

FROM node:24-slim AS builder
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=builder /app/dist ./dist
USER node
EXPOSE 8000
# slim images have no curl: node's own fetch asks /health on the port the gateway listens on.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health').then((response) => process.exit(response.ok ? 0 : 1), () => process.exit(1))"]
# The gateway drains in-flight requests and streams on SIGTERM (SHUTDOWN_TIMEOUT, default 30 s).
STOPSIGNAL SIGTERM
# Memory options: the same as package.json's start script, chosen by measurement (bench/README.md,
# "Node memory options"); raise --max-old-space-size for large bodies at high concurrency.
CMD ["node", "--max-semi-space-size=16", "--max-old-space-size=512", "dist/process/cli.js"]
