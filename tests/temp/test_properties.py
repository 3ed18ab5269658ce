"""Property-based (stateful) tests of the temp areas (``langflix/temp/``): managers and nested scopes.

Hypothesis drives random sequences of create / delete=False / register / nested
scopes / persist / release / cleanup_all against a plain model of what each
area should track. After every step: what is tracked is exactly what is on
disk. After the run: ``cleanup_all`` leaves nothing and ``close`` removes the session.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from langflix.temp import TempArea, TempFileManager, TempScope

# Names from users: include separators, dots and NUL, which must never escape.
NAME_PART = st.text(alphabet="ab._-/\\\0가", max_size=6)


class _Model:
    """What one area (the manager or a scope) should track."""

    def __init__(self, area: TempArea, parent: _Model | None) -> None:
        self.area = area
        self.parent = parent
        self.files: set[Path] = set()
        self.dirs: set[Path] = set()
        self.children: list[_Model] = []

    def subtree(self) -> list[_Model]:
        out = [self]
        for child in self.children:
            out.extend(child.subtree())
        return out


class TempManagerMachine(RuleBasedStateMachine):
    base: Path  # set per test run
    counter = itertools.count()

    @initialize()
    def start(self) -> None:
        n = next(self.counter)
        self.manager = TempFileManager(base_dir=self.base / f"run{n}")
        self.dest = self.base / f"dest{n}"
        self.root = _Model(self.manager, None)
        _ = self.manager.session_dir  # create the session now so the invariant can read it

    # -- helpers -----------------------------------------------------------------
    def areas(self) -> list[_Model]:
        return self.root.subtree()

    def pick_area(self, data: st.DataObject) -> _Model:
        return data.draw(st.sampled_from(self.areas()), label="area")

    # -- rules -------------------------------------------------------------------
    @rule(
        data=st.data(),
        suffix=NAME_PART,
        prefix=st.none() | NAME_PART,
        delete=st.booleans(),
        payload=st.binary(max_size=64),
    )
    def create_file(self, data: st.DataObject, suffix: str, prefix: str | None, delete: bool, payload: bytes) -> None:
        model = self.pick_area(data)
        with model.area.create_temp_file(suffix=suffix, prefix=prefix, delete=delete) as path:
            assert path.parent == model.area.path
            assert path.is_file() and path.stat().st_size == 0
            path.write_bytes(payload)
        if delete:
            assert not path.exists()
        else:
            assert path.exists()
            model.files.add(path)

    @rule(data=st.data(), prefix=st.none() | NAME_PART)
    def make_dir(self, data: st.DataObject, prefix: str | None) -> None:
        model = self.pick_area(data)
        path = model.area.new_dir(prefix=prefix)
        assert path.parent == model.area.path and path.is_dir()
        model.dirs.add(path)

    @rule(data=st.data())
    def register(self, data: st.DataObject) -> None:
        model = self.pick_area(data)
        path = model.area.path / f"external-{next(self.counter)}.out"
        path.write_bytes(b"made by ffmpeg")
        if data.draw(st.booleans(), label="via append"):
            model.area.temp_files.append(path)
        else:
            model.area.register_file(path)
        model.files.add(path)

    @rule(data=st.data(), name=NAME_PART)
    def open_scope(self, data: st.DataObject, name: str) -> None:
        model = self.pick_area(data)
        scope = model.area.scope(name)
        assert scope.path.parent == model.area.path
        model.children.append(_Model(scope, model))

    @rule(data=st.data())
    def close_scope(self, data: st.DataObject) -> None:
        scopes = self.areas()[1:]
        if not scopes:
            return
        model = data.draw(st.sampled_from(scopes), label="scope")
        scope = model.area
        assert isinstance(scope, TempScope)
        scope.close()
        assert scope.closed and not scope.path.exists()
        assert model.parent is not None
        model.parent.children.remove(model)

    @rule(data=st.data())
    def persist(self, data: st.DataObject) -> None:
        candidates = [(m, p) for m in self.areas() for p in sorted(m.files | m.dirs)]
        if not candidates:
            return
        model, path = data.draw(st.sampled_from(candidates), label="persisted")
        # Through the owning area or any ancestor (a job's output persisted by the manager).
        ancestors: list[_Model] = []
        node: _Model | None = model
        while node is not None:
            ancestors.append(node)
            node = node.parent
        via = data.draw(st.sampled_from(ancestors), label="via")
        dest = self.dest / f"out-{next(self.counter)}"
        content = path.read_bytes() if path.is_file() else None
        assert via.area.persist(path, dest) == dest
        assert not path.exists() and dest.exists()
        if content is not None:
            assert dest.read_bytes() == content
        model.files.discard(path)
        model.dirs.discard(path)

    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        candidates = [(m, p) for m in self.areas() for p in sorted(m.files | m.dirs)]
        if not candidates:
            return
        model, path = data.draw(st.sampled_from(candidates), label="released")
        model.area.release(path)
        assert not path.exists()
        model.files.discard(path)
        model.dirs.discard(path)

    @rule(data=st.data())
    def cleanup_all(self, data: st.DataObject) -> None:
        model = self.pick_area(data)
        model.area.cleanup_all()
        for child in model.children:
            assert child.area.closed
        model.children.clear()
        model.files.clear()
        model.dirs.clear()
        assert model.area.path.is_dir()  # still usable

    # -- invariants -----------------------------------------------------------------
    @invariant()
    def tracked_equals_on_disk(self) -> None:
        expected: set[Path] = set()
        for model in self.areas():
            area = model.area
            assert set(area.temp_files) == model.files
            assert set(area.temp_dirs) == model.dirs
            assert len(area.temp_files) == len(model.files)
            expected |= model.files | model.dirs
            if model.parent is not None:
                expected.add(area.path)
        session = self.manager.session_dir
        on_disk = {p for p in session.rglob("*") if p != session / ".owner"}
        assert on_disk == expected
        stats = self.manager.stats()
        assert stats.live_files == sum(len(m.files) for m in self.areas())
        assert stats.live_dirs == sum(len(m.dirs) for m in self.areas())
        assert stats.live_scopes == len(self.areas()) - 1

    def teardown(self) -> None:
        if not hasattr(self, "manager"):
            return
        session = self.manager.session_dir
        self.manager.cleanup_all()
        assert [p.name for p in session.iterdir()] == [".owner"]
        self.manager.close()
        assert not session.exists()


def test_random_life_cycles_keep_tracked_equal_to_disk(tmp_path: Path) -> None:
    TempManagerMachine.base = tmp_path
    run_state_machine_as_test(
        TempManagerMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
        ),
    )
    assert not [p for p in tmp_path.rglob("*") if "session-" in p.name]
