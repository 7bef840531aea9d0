# Build stage: compiles TypeScript and the better-sqlite3 addon, then drops dev dependencies.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# .npmrc keeps onnxruntime-node's install script from fetching GPU binaries (node:20's npm 10
# ignores package.json's allowScripts); the CPU runtime ships inside the package.
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
COPY config ./config
COPY models ./models
RUN npm run build && npm prune --omit=dev

# Runtime stage: the compiled service, its production dependencies, models and config only.
FROM node:20-bookworm-slim
# Debian's ffmpeg reads authentication videos: kept current by Debian's security updates (prlimit, which
# bounds it, comes with util-linux, part of every Debian image).
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg && rm -rf /var/lib/apt/lists/*
# Fewer glibc malloc arenas: each analysis thread would otherwise keep its own (measured: -80 MB RSS).
ENV NODE_ENV=production FACEGATE_DATA_DIR=/data MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/config ./config
COPY --from=build /app/models ./models
COPY openapi.yaml ./
COPY public ./public
# Faces live here: only the service's user may enter.
RUN mkdir -p /data && chown node:node /data && chmod 0700 /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:8080/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/src/server.js"]
