# The application image: web (gunicorn), worker and beat all run it with different commands.
FROM python:3.11-slim

# uv installs exactly what uv.lock pins; the same version that wrote the lock file.
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /bin/

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH="/opt/venv/bin:$PATH"

WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-default-groups --no-install-project

COPY . .
RUN uv sync --frozen --no-default-groups

# Static files are collected at build time. Production settings refuse to load without their
# secrets, so this one command gets throw-away values that never leave this RUN step.
RUN DJANGO_SETTINGS_MODULE=config.settings.production \
    DJANGO_SECRET_KEY=collectstatic-only-not-a-secret-collectstatic-only-not-a-secret \
    DATABASE_URL=postgresql://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 \
    TOTP_ENCRYPTION_KEYS=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    APP_DOMAIN=build.invalid \
    S3_BUCKET=build S3_ACCESS_KEY_ID=build S3_SECRET_ACCESS_KEY=build \
    POSTMARK_TOKEN=build \
    python manage.py collectstatic --noinput --verbosity 0

# Never run as root inside the container.
RUN useradd --system --uid 10001 --no-create-home --home-dir /app app
USER app

EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--config", "config/gunicorn.conf.py", "--bind", "0.0.0.0:8000", "--workers", "3"]
