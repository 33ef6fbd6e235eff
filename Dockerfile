# tuneloop: the Slack bot (`tuneloop serve`) and the retraining scheduler (`tuneloop scheduler`)
# in one image; compose.yaml runs them with PostgreSQL.
#   docker build -t tuneloop .
#   docker build -t tuneloop --build-arg EXTRAS=lora .   # with the self-hosted LoRA trainer
# (EXTRAS=lora installs torch from PyPI: on Linux its CUDA build, several GB.)
FROM python:3.11-slim

ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TIKTOKEN_CACHE_DIR=/opt/tiktoken \
    HF_HUB_OFFLINE=1 \
    TUNELOOP_DATA_DIR=/data \
    PORT=3000

WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY curation ./curation
COPY scheduler ./scheduler
COPY tuneloop ./tuneloop
COPY deploy/tiktoken /opt/tiktoken
# The encodings are loaded now (from deploy/tiktoken, else downloaded), so that the running
# containers need no internet for them.
RUN pip install ".${EXTRAS:+[$EXTRAS]}" \
 && python -c "import tiktoken; [tiktoken.get_encoding(n) for n in ('o200k_base', 'cl100k_base')]" \
 && rm -rf /src /opt/tiktoken/README.md

# Never root: a system user owning only the data folder.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/tuneloop tuneloop \
 && mkdir -p /data && chown tuneloop:tuneloop /data
USER tuneloop
WORKDIR /home/tuneloop
VOLUME ["/data"]
EXPOSE 3000 9464

# `tuneloop serve`'s /healthz: 200 while the database answers (compose.yaml points the
# scheduler's check at its TUNELOOP_METRICS_PORT).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "tuneloop.healthcheck"]

CMD ["tuneloop", "serve", "--host", "0.0.0.0"]
