# syntax=docker/dockerfile:1
# rolegate: multi-stage build. The runtime image holds production dependencies
# and the compiled JavaScript only, runs as the unprivileged `node` user, and
# starts `rolegate serve`.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` builds, and the sources are not copied yet
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json
# the admin console: its own tsconfig (DOM), then its static files beside the compiled modules
RUN npx tsc -p src/admin/console/tsconfig.json \
 && cp src/admin/console/index.html src/admin/console/style.css dist/src/admin/console/

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    ROLEGATE_HOST=0.0.0.0 \
    ROLEGATE_OPS_HOST=0.0.0.0 \
    ROLEGATE_CONFIG=/app/config/gateway.yaml
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY policies ./policies
COPY config ./config
USER node
# 9091: the admin API and console, when `admin:` is configured
EXPOSE 8080 9090 9091
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["serve"]
