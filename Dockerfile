# Safer K&C: `docker build -t safer-kc .`, then see docs/deploy.md.

# Build: install the package and its dependencies into a virtual environment, check the content.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md babel.cfg directory.yaml situations.yaml commands.yaml danger-words.yaml ./
COPY bot ./bot
COPY flows ./flows
COPY locales ./locales
COPY scripts/image-install ./scripts/image-install
RUN sh scripts/image-install /opt/venv /src

# Run: the environment and the content only, as a user without privileges.
FROM python:3.11-slim
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin bot \
    && mkdir -p /app /data \
    && chown bot:bot /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src/directory.yaml /src/situations.yaml /src/commands.yaml /src/danger-words.yaml /app/
COPY --from=build /src/flows /app/flows
COPY --from=build /src/locales /app/locales
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BOT_CONTENT_DIR=/app \
    BOT_DATA_DIR=/data \
    BOT_CACHE_DIR=/opt/venv/share/safer-kc \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
USER bot
# The database and the key that hashes user ids live here: keep it on a volume, and back it up.
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["bot", "health"]
# `bot run` stops taking updates on SIGTERM, finishes the ones in hand and closes the database.
STOPSIGNAL SIGTERM
CMD ["bot", "run"]
