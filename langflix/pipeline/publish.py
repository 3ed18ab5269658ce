"""Publishing an episode: all of it at once under ``OUTPUT_DIR/<episode>/``, or nothing.

The episode is assembled in the job's scope, index included, then renamed to a
free name with ``persist(..., replace=False)``: one rename(2) of a full directory,
which fails when the name holds a file or a non-empty directory. So no episode
directory ever exists empty or half-filled, whenever the job is killed (SIGTERM,
SIGKILL, a power cut); two jobs publishing the same name get two directories; an
earlier run is never clobbered. A job that fails after publishing takes back
exactly what it put there.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from langflix.errors import DestinationExistsError, JobError
from langflix.temp import TempArea

__all__ = [
    "MAX_CLAIM_ATTEMPTS",
    "Publication",
    "episode_dir_candidates",
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


def episode_dir_candidates(output_dir: Path, name: str) -> Iterator[Path]:
    """``output_dir/name``, then ``name-2``, ``name-3``... that nothing holds yet (creating ``output_dir``).

    Only a guess: the rename that publishes is the claim, and a name taken
    between this look and that rename just moves the episode on to the next one.
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
        if not os.path.lexists(candidate):
            yield candidate
    raise JobError(
        f"{output_dir} already holds {MAX_CLAIM_ATTEMPTS} runs of {name!r}; clean it up or pass another --episode-name"
    )


def unclaim(episode_dir: Path) -> None:
    """Remove an episode dir that nothing (any more) is in; one that holds something stays."""
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
    """Move ``files`` (name -> file of ``area``) and an index into a new episode dir, all in one rename.

    ``index`` is the index file's name and a function of the episode dir giving
    its text (the manifest names its own directory); it is written into the
    staging dir for the name about to be taken, and written again if another
    job takes that name first. Whoever finds the episode dir finds the index
    and every file it names, complete.
    """
    staging = area.new_dir(prefix="episode-")
    for file_name, path in files.items():
        area.persist(path, staging / file_name)
    index_name, index_text = index
    for episode_dir in episode_dir_candidates(output_dir, name):
        (staging / index_name).write_text(index_text(episode_dir), encoding="utf-8")
        try:
            area.persist(staging, episode_dir, replace=False)
        except DestinationExistsError:
            continue  # taken since we looked: the next name
        return Publication(episode_dir, (*files, index_name))
    raise AssertionError("unreachable: episode_dir_candidates raises when it runs out")
