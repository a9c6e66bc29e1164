# syntax=docker/dockerfile:1
# One image for the bundlefarm API, worker and CLI:
#   docker build -t bundlefarm .
#   docker run --rm bundlefarm node apps/api/bin/bundlefarm-api.js       (the default command)
#   docker run --rm bundlefarm node apps/worker/bin/bundlefarm-worker.js
#   docker run --rm bundlefarm node apps/cli/bin/bundlefarm.js --help
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: compilers and headers for the optional libdeflate binding, TypeScript -------------------
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential python3 libdeflate-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Sources first: `npm ci` runs the root `prepare` script, which builds the native binding and `tsc -b`;
# BUNDLEFARM_REQUIRE_NATIVE=1 fails it unless the addon is whole (libdeflate included).
COPY . .
RUN --mount=type=cache,target=/root/.npm \
    BUNDLEFARM_REQUIRE_NATIVE=1 npm ci --no-audit --no-fund \
 && test -f packages/native/build/Release/bundlefarm_native.node \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: node, the libdeflate shared library, tini; no compilers ------------------------------
# e2fsprogs, fdisk, attr, zstd, xz-utils, bzip2: jobs that build their filesystem from a tree or tarball
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libdeflate0 tini ca-certificates e2fsprogs fdisk attr zstd xz-utils bzip2 \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=root:root /app /app
# keys (/etc/bundlefarm) and images (/srv/images) are mounted read-only; nothing here is written
USER node
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "apps/api/bin/bundlefarm-api.js"]
