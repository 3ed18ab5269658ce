"""A real second user: run Python as ``nobody`` (uid 65534) on a directory of the test.

pytest's ``tmp_path`` lies under a 0700 directory of root, which ``nobody`` cannot
enter. So the child runs in a private mount namespace (``unshare --mount``) in
which the test's directory is bind-mounted at ``/mnt``, then drops to uid/gid
65534 with ``setpriv`` (no groups, no capabilities). Nothing outside the child's
namespace changes; the test sees the same files under its own path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

__all__ = ["NOBODY", "SHARED", "as_nobody"]

NOBODY = 65534
SHARED = Path("/mnt")
"""Where the shared directory appears inside the child."""

# $0: the directory to share; "$@": the command, run as nobody once it is mounted.
_MOUNT_THEN_DROP = (
    'mount --bind "$0" /mnt && '
    f'exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups --inh-caps=-all -- "$@"'
)


def as_nobody(
    shared: Path, script: str, *args: str, timeout: float = 60, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``python -c script args...`` as uid 65534 with ``shared`` mounted at ``/mnt``.

    ``shared`` must be traversable by others (0755 or wider); the script sees it
    as :data:`SHARED`. The child imports ``langflix`` from this checkout.
    """
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("setpriv")):
        pytest.skip("a second user needs root, unshare(1) and setpriv(1); CI runs these tests as root")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), PYTHONDONTWRITEBYTECODE="1", HOME="/nonexistent")
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", _MOUNT_THEN_DROP, str(shared),
         sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )  # fmt: skip
    if check and done.returncode != 0:
        raise AssertionError(f"the script run as nobody failed ({done.returncode}):\n{done.stderr}")
    return done
