"""Tests for ``langflix/temp/_trees.py``: removing trees their owner locked, as a real unprivileged user.

Root ignores directory permissions, so these run as ``nobody`` (uid 65534)
through ``support.users``: a 0000 or 0500 directory inside a scope must neither
block the scope's close nor every later sweep of a dead session holding one.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from support.users import NOBODY, SHARED, as_nobody

LOCKED_MODES = (0o000, 0o500, 0o400, 0o100, 0o300)

# As nobody: a scope holding directories locked every way, closed; then a dead
# session holding the same, swept by a later start.
_LOCKED_DIRS = f"""
import json, os, sys
from pathlib import Path
from langflix.temp import TempFileManager, sweep_orphans

base = Path(sys.argv[1])

def lock_up(root):
    for mode in {LOCKED_MODES!r}:
        d = root / f"locked-{{mode:o}}"
        (d / "sub").mkdir(parents=True)
        (d / "sub" / "f.bin").write_bytes(b"x" * 100)
        (d / "f.bin").write_bytes(b"x" * 100)
        os.chmod(d / "sub", mode)
        os.chmod(d, mode)

manager = TempFileManager(base_dir=base)
scope = manager.scope("job")
lock_up(scope.path)
scope.close()
closed = [not scope.path.exists(), manager.stats().failures]
if sys.argv[2] == "die":
    lock_up(manager.session_dir)
    print(json.dumps({{"session": str(manager.session_dir), "closed": closed}}), flush=True)
    os._exit(0)
report = sweep_orphans(base)
print(json.dumps({{"closed": closed, "removed": report.removed, "errors": report.errors,
                   "left": sorted(os.listdir(base))}}), flush=True)
manager.close()
"""


def _shared(tmp_path: Path) -> Path:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chown(shared, NOBODY, NOBODY)
    shared.chmod(0o755)
    return shared


def test_an_unprivileged_owner_cleans_up_directories_it_locked(tmp_path: Path) -> None:
    shared = _shared(tmp_path)
    dying = json.loads(as_nobody(shared, _LOCKED_DIRS, str(SHARED / "base"), "die").stdout)
    assert dying["closed"] == [True, 0], "the scope's close failed on a locked directory"
    session = shared / "base" / Path(dying["session"]).name
    assert session.is_dir() and os.stat(session).st_uid == NOBODY
    # The next start of the same user sweeps the dead session, locked dirs and all.
    result = json.loads(as_nobody(shared, _LOCKED_DIRS, str(SHARED / "base"), "live").stdout)
    assert result["closed"] == [True, 0]
    assert result["removed"] == 1 and result["errors"] == [], result
    assert session.name not in result["left"] and not session.exists()


def test_cleanup_never_changes_what_it_does_not_own(tmp_path: Path) -> None:
    # A directory of root's inside nobody's dead session: nobody's sweep cannot
    # remove it and must leave its mode alone; it reports the error, every time.
    shared = _shared(tmp_path)
    dying = json.loads(as_nobody(shared, _LOCKED_DIRS, str(SHARED / "base"), "die").stdout)
    session = shared / "base" / Path(dying["session"]).name
    roots = session / "roots"
    roots.mkdir(mode=0o500)
    (roots / "keep").mkdir()
    sweep = as_nobody(
        shared, "import sys, json; from langflix.temp import sweep_orphans; "
        "r = sweep_orphans(sys.argv[1]); print(json.dumps([r.removed, len(r.errors)]))",
        str(SHARED / "base"),
    )  # fmt: skip
    assert json.loads(sweep.stdout) == [0, 1], "renamed to garbage, then one error removing it"
    [garbage] = [p for p in (shared / "base").iterdir() if "garbage-" in p.name]
    roots = garbage / "roots"
    assert stat.S_IMODE(os.stat(roots).st_mode) == 0o500 and (roots / "keep").is_dir()
    assert os.stat(roots).st_uid == 0
    again = as_nobody(
        shared, "import sys, json; from langflix.temp import sweep_orphans; "
        "r = sweep_orphans(sys.argv[1]); print(json.dumps([r.garbage_finished, len(r.errors)]))",
        str(SHARED / "base"),
    )  # fmt: skip
    assert json.loads(again.stdout) == [0, 1], "the next sweep tries again and reports it, no more"
    assert stat.S_IMODE(os.stat(roots).st_mode) == 0o500
