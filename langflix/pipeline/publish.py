"""Publishing an episode: all of it at once under ``OUTPUT_DIR/<episode>/``, or nothing.

The episode is assembled in the job's scope, then renamed over an empty directory
claimed for it with ``mkdir`` (atomic: two jobs publishing the same name get two
directories, an earlier run is never clobbered). A reader sees no episode or all of
it; a job that fails after publishing takes back exactly what it put there.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from langflix.errors import JobError
from langflix.temp import TempArea

__all__ = [
    "MAX_CLAIM_ATTEMPTS",
    "Publication",
    "claim_episode_dir",
    "publish_episode",
    "sanitize_episode_name",
    "unclaim",
    "unpublish",
]

logger = logging.getLogger(__name__)

MAX_CLAIM_ATTEMPTS: Final[int] = 10_000
_MAX_NAME_CHARS: Final[int] = 80


def sanitize_episode_name(name: str) -> str:
    """A directory name made from ``name`` that cannot escape the output dir.

    Letters of any script are kept (Korean titles are common), anything else
    (separators, ``..``, control characters, spaces) becomes ``_``. Empty when
    nothing usable is left.
    """
    text = unicodedata.normalize("NFKC", name)
    text = re.sub(r"[^\w.-]+", "_", text, flags=re.UNICODE)
    # Leading dots would hide the directory or spell "..": strip them.
    text = text.strip("._-")
    return text[:_MAX_NAME_CHARS].rstrip("._-")


def claim_episode_dir(output_dir: Path, name: str) -> Path:
    """Create and return ``output_dir/name`` or the first free ``name-2``, ``name-3``...

    ``os.mkdir`` is the claim: it fails atomically when the directory exists, so
    two pipelines publishing the same episode at once can never both pick the
    same directory (a check-then-create would race) and an earlier run is never
    clobbered.
    """
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JobError(
            f"cannot create the output directory {output_dir}: {exc.strerror}; "
            "choose another one with -o/--output-dir"
        ) from exc
    for attempt in range(1, MAX_CLAIM_ATTEMPTS + 1):
        candidate = output_dir / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            os.mkdir(candidate, 0o755)
        except FileExistsError:
            continue
        except OSError as exc:
            raise JobError(f"cannot create {candidate}: {exc.strerror}; check the permissions of {output_dir}") from exc
        return candidate
    raise JobError(
        f"{output_dir} already holds {MAX_CLAIM_ATTEMPTS} runs of {name!r}; clean it up or pass another --episode-name"
    )


def unclaim(episode_dir: Path) -> None:
    """Give back a claimed episode dir that nothing was published into."""
    try:
        episode_dir.rmdir()
    except OSError as exc:
        logger.warning("left %s in place: %s", episode_dir, exc)


def unpublish(episode_dir: Path, published: Sequence[Path]) -> None:
    """Undo a publish: remove exactly the ``published`` paths, then the dir if that emptied it.

    A file somebody else put in the directory is never touched.
    """
    for path in reversed(published):
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("could not remove partial output %s: %s", path, exc)
    unclaim(episode_dir)


@dataclass(frozen=True, slots=True)
class Publication:
    """A published episode: its directory and the names this job put there."""

    episode_dir: Path
    names: tuple[str, ...]

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(self.episode_dir / name for name in self.names)

    def undo(self) -> None:
        """Take the episode back (a step after publishing failed)."""
        unpublish(self.episode_dir, self.paths)


def publish_episode(
    area: TempArea,
    output_dir: Path,
    name: str,
    files: Mapping[str, Path],
    index: tuple[str, Callable[[Path], str]],
) -> Publication:
    """Move ``files`` (name -> file of ``area``) and an index into a new episode dir.

    ``index`` is the index file's name and a function of the claimed episode dir
    giving its text (the manifest names its own directory); it is written last
    inside the staging dir, and the whole dir is renamed over the claimed empty
    one, so whoever finds the index finds every file it names, complete.
    """
    staging = area.new_dir(prefix="episode-")
    for file_name, path in files.items():
        area.persist(path, staging / file_name)
    index_name, index_text = index
    episode_dir = claim_episode_dir(output_dir, name)
    try:
        (staging / index_name).write_text(index_text(episode_dir), encoding="utf-8")
        area.persist(staging, episode_dir)  # rename(2) over an empty dir: atomic
    except BaseException:
        unclaim(episode_dir)
        raise
    return Publication(episode_dir, (*files, index_name))
