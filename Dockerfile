# The image compose.yaml runs: LangFlix with its system tools and the scale-out extra.
FROM python:3.11-slim-bookworm
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        ffmpeg espeak-ng fonts-noto-cjk fonts-dejavu-core fontconfig \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY langflix ./langflix
RUN pip install --no-cache-dir ".[redis]"
RUN useradd --create-home langflix && mkdir -p /shared /scratch && chown langflix /shared /scratch
USER langflix
