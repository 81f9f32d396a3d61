# The dashboard is built here, so the image needs no Node.js at run time.
FROM node:20-slim AS web
WORKDIR /build/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
# vite's outDir is ../src/botskis/web_dist, i.e. /build/src/botskis/web_dist.
RUN npm run build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HOST=0.0.0.0 PORT=8000 LOG_DIR=/app/logs

WORKDIR /app
RUN useradd --create-home --uid 10001 botskis
COPY pyproject.toml README.md alembic.ini ./
COPY src ./src
COPY --from=web /build/src/botskis/web_dist ./src/botskis/web_dist
RUN pip install . && mkdir -p /app/logs && chown -R botskis /app

USER botskis
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"8000\")}/health', timeout=2)"
CMD ["sh", "-c", "botskis migrate && exec botskis serve"]
