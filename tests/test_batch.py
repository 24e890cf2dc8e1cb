"""Batch indexing: resumable after SIGKILL, failures recorded and retried, Dask path."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from memetrack.config import Settings
from memetrack.pipeline import Memetrack
from memetrack.store import Store
from tests.imagegen import encode, scene

ROOT = Path(__file__).resolve().parent.parent


def make_folder(root: Path, n: int, size: tuple[int, int] = (640, 480)) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = scene(1000 + i, *size)
        (root / f"img{i:03d}.jpg").write_bytes(encode(img, "JPEG", quality=85))
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def state(settings: Settings) -> dict[str, object]:
    with Memetrack(settings) as core:
        core.load_indexes()
        store = core.store
        ids = store.media_ids()
        return {
            "media": len(ids),
            "pending": len(store.pending_media()),
            "without_family": sum(store.families.membership(i) is None for i in ids),
            "index": core.indexes.sizes(),
            "failed": [Path(f.path).name for f in store.failed_files()],
        }


def test_a_killed_run_finishes_with_nothing_lost_or_duplicated(settings: Settings,
                                                               store: Store,
                                                               tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "media", 40)
    env = dict(os.environ, MEMETRACK_DATA_DIR=str(settings.data_dir),
               MEMETRACK_DATABASE_URL=settings.resolved_database_url, MEMETRACK_BATCH_SIZE="4",
               PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "memetrack.cli", "index", str(folder),
                             "--workers", "1", "--no-progress"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed_at = None
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        count = store.count_media()
        if count >= 5:
            proc.send_signal(signal.SIGKILL)
            killed_at = count
            break
        time.sleep(0.02)
    proc.wait()
    assert killed_at is not None, "the run ended before it could be killed"
    # it really was interrupted: files not stored yet, or stored but not processed
    assert store.count_media() < 40 or store.pending_media()

    with Memetrack(settings) as core:
        core.load_indexes()
        summary = core.index_paths([folder], workers=1)
    assert summary.indexed + summary.already_known == 40
    after = state(settings)
    assert after["media"] == 40 and after["pending"] == 0 and after["without_family"] == 0
    assert after["index"] == {"pdq": 40, "phash": 40}
    assert after["failed"] == ["broken.jpg"]

    with Memetrack(settings) as core:
        core.load_indexes()
        again = core.index_paths([folder], workers=1)
    assert again.indexed == 0 and again.unchanged == 40
    assert state(settings) == after


def test_failed_files_are_recorded_and_retried(core: Memetrack, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "media", 2)
    first = core.index_paths([folder], workers=1)
    assert [f[1] for f in first.failed] == ["truncated_image"]
    assert [Path(f.path).name for f in core.store.failed_files()] == ["broken.jpg"]
    second = core.index_paths([folder], workers=1)
    assert "failed before" in second.failed[0][2] and second.unchanged == 2
    retried = core.index_paths([folder], workers=1, retry_failed=True)
    assert retried.failed and "failed before" not in retried.failed[0][2]
    # a repaired file (new size and time) is tried again without being asked
    (folder / "broken.jpg").write_bytes(encode(scene(77), "JPEG"))
    repaired = core.index_paths([folder], workers=1)
    assert repaired.failed == [] and repaired.indexed == 1
    assert core.store.failed_files() == []


def test_dask_local_cluster_gives_the_same_result(settings: Settings, store: Store,
                                                  tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed")
    folder = make_folder(tmp_path / "media", 12)
    plain = Settings(data_dir=tmp_path / "plain", workers=1)
    with Memetrack(plain) as core:
        core.store.upgrade()
        core.load_indexes()
        local = core.index_paths([folder], workers=1)
        local_families = _partition(core)
    with Memetrack(settings) as core:
        core.load_indexes()
        dist = core.index_paths([folder], workers=2, dask="local")
        assert dist.indexed == local.indexed == 12
        assert [f[1] for f in dist.failed] == [f[1] for f in local.failed]
        assert _partition(core) == local_families


def _partition(core: Memetrack) -> set[frozenset[str]]:
    groups: dict[int, set[str]] = {}
    for media_id in core.store.media_ids():
        member = core.store.families.membership(media_id)
        assert member is not None
        groups.setdefault(member.family_id, set()).add(core.store.get_media(media_id).sha256)
    return {frozenset(g) for g in groups.values()}


def test_parallel_processes_match_a_single_process(settings: Settings, store: Store,
                                                   tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "media", 10)
    with Memetrack(settings) as core:
        core.load_indexes()
        summary = core.index_paths([folder], workers=2)
        hashes = {m.sha256: [h.hash.hex for h in m.hashes]
                  for m in core.store.get_media_many(core.store.media_ids()).values()}
    single = Settings(data_dir=tmp_path / "single", workers=1)
    with Memetrack(single) as core:
        core.store.upgrade()
        core.load_indexes()
        core.index_paths([folder], workers=1)
        expected = {m.sha256: [h.hash.hex for h in m.hashes]
                    for m in core.store.get_media_many(core.store.media_ids()).values()}
    assert summary.indexed == 10 and hashes == expected
    assert np.all([len(v) == 2 for v in hashes.values()])


def test_worker_prepared_matches_give_what_the_main_process_computes(
        settings: Settings, store: Store, tmp_path: Path) -> None:
    # Batch workers prepare each file's template match (views, features) from its sample; the
    # main process alone (a single upload, or a resumed run) computes the same from the stored
    # sample. Both must give the same families, kinds and stored references.
    from memetrack import families as fam
    from tests.matcher_scenes import caption, with_panel

    folder = tmp_path / "memes"
    folder.mkdir()
    images = [scene(41, 480, 360), scene(42, 400, 400), caption(scene(41, 480, 360)),
              with_panel(scene(42, 400, 400)), np.ascontiguousarray(caption(scene(41))[:, ::-1]),
              scene(43, 360, 480)]
    for i, img in enumerate(images):
        (folder / f"m{i}.jpg").write_bytes(encode(img, "JPEG", quality=90))

    def outcome(core: Memetrack) -> dict[str, object]:
        media = core.store.get_media_many(core.store.media_ids())
        sha = {m.id: m.sha256 for m in media.values()}
        members = {sha[i]: core.store.families.membership(i) for i in sha}
        refs = core.store.families.features(list(sha), fam.REPRESENTATION_ALGORITHM,
                                            fam.REPRESENTATION_VERSION, "reference")
        founders = {m.family_id: s for s, m in members.items() if m.kind == "representative"}
        return {
            "members": {s: (founders[m.family_id], m.kind) for s, m in members.items()},
            "references": {sha[i]: blob for i, blob in refs.items()},
        }

    with Memetrack(settings) as core:
        core.load_indexes()
        assert core.index_paths([folder], workers=2).indexed == 6
        batch = outcome(core)
    alone = Settings(data_dir=tmp_path / "alone", workers=1)
    with Memetrack(alone) as core:
        core.store.upgrade()
        core.load_indexes()
        for path in sorted(folder.iterdir()):
            core.index_bytes(path.read_bytes())
        single = outcome(core)
    assert batch == single
    kinds = sorted(kind for _founder, kind in batch["members"].values())  # type: ignore[union-attr]
    assert kinds.count("representative") == 3 and len(batch["references"]) == 3  # type: ignore[arg-type]
