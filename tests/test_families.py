"""Template families on both stores: assignment, no chaining, mirrors, curation, shell recovery."""

import io

import numpy as np
import pytest
from PIL import Image

from memetrack.config import MatcherSettings
from memetrack.errors import Conflict, NotFound
from memetrack.evaluation.variants import add_caption_panel, add_top_bottom_caption
from memetrack.pipeline import Memetrack
from tests.imagegen import encode, scene


def jpeg(img: Image.Image | np.ndarray, quality: int = 90) -> bytes:
    arr = np.asarray(img) if isinstance(img, Image.Image) else img
    return encode(np.ascontiguousarray(arr), "JPEG", quality=quality)


def template(seed: int, w: int = 520, h: int = 400) -> Image.Image:
    return Image.fromarray(scene(seed, w, h))


def family_of(core: Memetrack, media_id: int) -> int:
    member = core.store.families.membership(media_id)
    assert member is not None
    return member.family_id


def index(core: Memetrack, img: Image.Image | np.ndarray) -> int:
    return core.index_bytes(jpeg(img)).media.id


def test_captioned_variants_join_their_template_family(core: Memetrack) -> None:
    shell = template(1)
    base = index(core, shell)
    a = index(core, add_top_bottom_caption(shell, "when the build passes", "on the first try"))
    b = index(core, add_caption_panel(shell, "nobody: me at 3am fixing the tests"))
    assert family_of(core, a) == family_of(core, base) == family_of(core, b)
    members = {m.media_id: m for m in core.store.families.members(family_of(core, base))}
    assert members[base].kind == "representative"
    assert members[a].kind in ("verified", "variant", "exact")
    assert members[a].evidence["region"] and members[a].score > 0
    # each caption is its own variant; a re-encode of a captioned meme is the same variant
    c = index(core, np.asarray(Image.open(io.BytesIO(jpeg(
        add_top_bottom_caption(shell, "when the build passes", "on the first try"), 40)))))
    assert members[a].variant_id != members[base].variant_id
    assert core.store.families.membership(c).variant_id == members[a].variant_id


def test_unrelated_templates_with_caption_panels_are_not_merged(core: Memetrack) -> None:
    x = index(core, add_caption_panel(template(2), "this is fine, said everyone in the room"))
    y = index(core, add_caption_panel(template(3), "this is fine, said everyone in the room"))
    assert family_of(core, x) != family_of(core, y)


def test_a_chain_of_near_pairs_does_not_merge_unrelated_families(core: Memetrack) -> None:
    # link i shows template i on the left and template i+1 on the right: neighbours share a half,
    # the two ends share nothing
    halves = [scene(10 + i, 300, 400) for i in range(4)]
    links = [np.hstack([halves[i], halves[i + 1]]) for i in range(3)]
    ids = [index(core, link) for link in links]
    fams = [family_of(core, i) for i in ids]
    assert fams[0] != fams[2]
    assert core.store.families.count() >= 2


def test_mirrored_captioned_copy_joins_its_family(core: Memetrack) -> None:
    shell = template(4)
    base = index(core, shell)
    mirrored = add_top_bottom_caption(shell.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                                      "me explaining", "the same meme backwards")
    m = index(core, mirrored)
    assert family_of(core, m) == family_of(core, base)
    evidence = core.store.families.membership(m).evidence
    assert evidence["mirrored"] is True
    # a caption over the picture defeats the hash stage: verified, and the overlap looked alike
    assert evidence["kind"] == "verified"
    assert evidence["appearance"] >= MatcherSettings().appearance_min


def test_match_reports_the_family_without_storing(core: Memetrack) -> None:
    shell = template(5)
    base = index(core, shell)
    core.rename_family(family_of(core, base), name="Distracted tester", notes="seen in March")
    report = core.match_bytes(jpeg(add_caption_panel(shell, "a caption nobody indexed")))
    assert [t.family.name for t in report.templates] == ["Distracted tester"]
    assert report.templates[0].evidence["region"]
    assert core.store.count_media() == 1


def test_registered_shell_renaming_and_merging(core: Memetrack) -> None:
    shell = template(6)
    fam = core.register_shell(jpeg(shell), name="Two buttons", notes="blank")
    assert fam.registered_shell and fam.member_count == 1
    member = index(core, add_top_bottom_caption(shell, "push", "the red one"))
    assert family_of(core, member) == fam.id
    other = core.store.families.get(family_of(core, index(core, template(7))))
    merged = core.merge_families(fam.id, other.id)
    assert merged.id == fam.id and merged.member_count == 3
    assert core.store.families.get(other.id).id == fam.id  # the old id resolves to the survivor
    with pytest.raises(Conflict):
        core.merge_families(fam.id, other.id)
    renamed = core.rename_family(other.id, name="Two red buttons")
    assert renamed.id == fam.id and renamed.name == "Two red buttons"


def test_wrong_match_is_not_made_again(core: Memetrack) -> None:
    shell = template(8)
    base = index(core, shell)
    data = jpeg(add_top_bottom_caption(shell, "not", "the same"))
    copy = index(core, Image.open(io.BytesIO(data)))
    family = family_of(core, base)
    assert family_of(core, copy) == family
    moved = core.remove_from_family(copy, wrong_match=True)
    assert moved is not None and moved.family_id != family
    assert core.store.families.rejected_families(copy) == {family}
    core.rebuild_families()
    assert family_of(core, copy) != family_of(core, base)
    with pytest.raises(NotFound):
        core.remove_from_family(424242)


def test_rebuild_is_deterministic(core: Memetrack) -> None:
    ids = []
    for seed in (20, 21):
        shell = template(seed)
        ids += [index(core, shell), index(core, add_caption_panel(shell, f"caption {seed}"))]
    before = {i: family_of(core, i) for i in ids}
    n = core.rebuild_families()
    after = {i: family_of(core, i) for i in ids}
    assert n == 2
    assert len(set(after.values())) == 2
    assert (after[ids[0]] == after[ids[1]]) and (before[ids[0]] == before[ids[1]])
    again = core.rebuild_families()
    assert again == n and {i: family_of(core, i) for i in ids} == after


def test_shell_recovery_removes_captions(core: Memetrack) -> None:
    shell = template(30, 480, 360)
    captions = [("one does not simply", "write a test"), ("brace yourselves", "captions"),
                ("what if i told you", "median"), ("such caption", "very meme"),
                ("keep calm", "and recover")]
    first = index(core, add_top_bottom_caption(shell, *captions[0]))
    for top, bottom in captions[1:]:
        index(core, add_top_bottom_caption(shell, top, bottom))
    family = family_of(core, first)
    assert core.store.families.get(family).member_count == 5
    recovered, used = core.recover_shell(family)
    assert used >= 4
    truth = np.asarray(shell.resize((recovered.shape[1], recovered.shape[0])), np.float32)
    member = np.asarray(Image.open(io.BytesIO(jpeg(add_top_bottom_caption(shell, *captions[0]))))
                        .resize((recovered.shape[1], recovered.shape[0])), np.float32)
    err_recovered = np.abs(recovered.astype(np.float32) - truth).mean()
    err_member = np.abs(member - truth).mean()
    assert err_recovered < 0.5 * err_member
