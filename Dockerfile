# stalwart-py: one node on embedded LevelDB. Build: docker build -t stalwart-py .
# Run: docker run -v stalwart-data:/data -p 2424:2424 -p 1143:1143 -p 1993:1993 -p 8080:8080 stalwart-py
# The first start prints the generated admin and demo passwords (docker logs) and keeps them in
# /data/initial-passwords (mode 0600) until each account has logged in.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STALWART_SERVER_DATA_DIR=/data \
    STALWART_LMTP_BIND=0.0.0.0 \
    STALWART_IMAP_BIND=0.0.0.0 \
    STALWART_HTTP_BIND=0.0.0.0

WORKDIR /app
COPY pyproject.toml README.md ./
COPY stalwart_py ./stalwart_py
COPY store ./store
COPY protocols ./protocols
COPY cluster ./cluster
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin stalwart \
    && mkdir -p /data && chown stalwart:stalwart /data

USER stalwart
VOLUME ["/data"]
# LMTP, IMAP, IMAPS, HTTP (JMAP), HTTPS
EXPOSE 2424 1143 1993 8080 8443

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import socket; s=socket.create_connection(('127.0.0.1', 2424), 3); assert s.recv(3) == b'220'"

STOPSIGNAL SIGTERM
CMD ["stalwart-py", "serve"]
