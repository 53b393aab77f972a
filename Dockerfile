# Lookout server image: Node 24 on Debian 13 (trixie) with Debian's ffmpeg.
# Build: docker build -t lookout .      Run with the compose file: docker compose up
FROM node:24-trixie-slim AS build
ENV ONNXRUNTIME_NODE_INSTALL=skip SCARF_ANALYTICS=false
WORKDIR /app
COPY . .
# npm ci runs `prepare`: compiles TypeScript to dist/ and prepares the models in models/.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:24-trixie-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 DATA_DIR=/data RECORDINGS_DIR=/recordings FFMPEG_PATH=/usr/bin/ffmpeg
COPY --from=build --chown=node:node /app /app
RUN mkdir -p /data /recordings && chown node:node /data /recordings
USER node
EXPOSE 8080
VOLUME ["/data", "/recordings"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/api/v1/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/src/main.js"]
