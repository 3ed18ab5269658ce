"""Settings read from the environment (``LANGFLIX_*``) with safe defaults.

One object, :class:`Settings`, is the only place a setting is read, so the CLI,
the pipeline and the API agree on every value.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from langflix.temp import TempSettings

__all__ = ["Settings", "get_settings"]


class Settings(TempSettings):
    """Every knob of LangFlix; each field maps to ``LANGFLIX_<FIELD>``.

    The temp-file life cycle's own (``temp_dir``, ``temp_max_bytes``,
    ``min_free_bytes``) are declared once, in :class:`~langflix.temp.TempSettings`.
    """

    model_config = SettingsConfigDict(env_prefix="LANGFLIX_", extra="ignore")

    # Where results and state live.
    output_dir: Path = Field(default=Path("langflix-output"))
    data_dir: Path = Field(default=Path("langflix-data"), description="Job store location.")

    # Service.
    max_upload_bytes: int = Field(default=4 * 1024**3, ge=1)
    workers: int = Field(default=2, ge=1)
    max_queue: int = Field(default=16, ge=1)

    # The jobs' video format (the service's; `langflix process` has flags for it).
    video_width: int = Field(default=1280, ge=16, description="Output width in pixels (even).")
    video_height: int = Field(default=720, ge=16, description="Output height in pixels (even).")
    video_fps: int = Field(default=25, ge=1, le=120)
    video_crf: int = Field(default=23, ge=0, le=51, description="x264 quality: lower is better and larger.")
    video_preset: str = Field(default="veryfast", description="x264 preset: ultrafast ... veryslow.")

    # External tools.
    ffmpeg_binary: str = "ffmpeg"
    ffprobe_binary: str = "ffprobe"
    ffmpeg_timeout: float = Field(default=1800.0, gt=0)

    # Text to speech.
    tts: str = "espeak"
    tts_timeout: float = Field(default=30.0, gt=0)
    tts_retries: int = Field(default=2, ge=0)
    espeak_binary: str = "espeak-ng"
    lemonfox_api_key: str | None = None
    lemonfox_base_url: str = "https://api.lemonfox.ai"
    lemonfox_voice: str = "sarah"
    google_api_key: str | None = None
    google_base_url: str = "https://texttospeech.googleapis.com"

    # Optional LLM expression selector (OpenAI-compatible chat API).
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout: float = Field(default=60.0, gt=0)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
