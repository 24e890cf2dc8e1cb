"""A seeded simulator of meme spread with planted coordinated campaigns, for demos and tests.

``simulate(out, SimulationConfig(...))`` writes

* ``out/images/``: the distinct images (organic template variants, campaign variants, cut-out
  composites). Many sightings reuse one image, so a large log needs few images;
* ``out/cutouts/``: the transparent cut-outs the campaigns paste into their composites;
* ``out/manifest.jsonl``: one sighting per line, in collection order (so *not* in posting order),
  with ``posted_at`` in each platform's own UTC offset;
* ``out/truth.json``: the ground truth: campaign accounts and items, and for every image the
  template it was built from (its family), its caption (its variant) and the cut-out it contains.

**Organic activity.** Accounts on several platforms with heavy-tailed activity (Pareto), posting
templates of Zipf-distributed popularity. Each template trends in *cascades*: reposts follow a
cascade's start with log-normal delays (hours), a few "aggregator" accounts repost quickly
(minutes), so organic accounts do co-post popular items by chance and a naive co-occurrence count
is noisy.

**Campaigns.** A set of sock-puppet accounts spread over several platforms pushes captioned
variants of a few shells and one cut-out composite: in each *burst* one new image is posted by
most puppets within minutes (exponential delays, mean :data:`BURST_MEAN_DELAY` seconds), bursts
repeat over days. Some organic accounts later repost campaign images (amplification noise).

With ``images=False`` nothing is drawn: the manifest then names an ``image`` id per row instead of
a ``path`` (for large-scale runs loaded without the image pipeline).
"""

from __future__ import annotations

import json
import math
import random
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from memetrack.errors import BadInput

PLATFORMS: tuple[tuple[str, float, int], ...] = (  # name, share of accounts, UTC offset (hours)
    ("x", 0.35, 0), ("telegram", 0.2, 3), ("facebook", 0.2, -5), ("instagram", 0.15, 1),
    ("reddit", 0.1, -8),
)
ACTIVITY_PARETO_ALPHA = 1.6  # heavy-tailed posts per account
ACTIVITY_SCALE = 3.0  # posts of the least active accounts
ACTIVITY_CAP_SHARE = 0.2  # no account posts more than this share of all days*24 hours
TEMPLATE_ZIPF = 1.1
CASCADE_MEDIAN_DELAY_H = 4.0  # organic reposts follow a cascade start by hours (log-normal)
CASCADE_SIGMA = 1.4
AGGREGATOR_SHARE = 0.01  # organic accounts that repost fast
AGGREGATOR_MEDIAN_DELAY_MIN = 30.0
AGGREGATOR_SIGMA = 1.2
PUPPETS = (6, 12)  # sock-puppets per campaign
CAMPAIGN_PLATFORMS = (2, 3)
CAMPAIGN_SHELLS = (2, 3)
CAMPAIGN_DAYS = (7, 14)
BURSTS = (14, 22)
BURST_MEAN_DELAY = 40.0  # seconds after the burst's start (exponential)
BURST_MAX_DELAY = 300.0
BURST_PARTICIPATION = 0.85
AMPLIFICATION_REPOSTS = (3, 12)  # organic reposts of each campaign image, hours later
IMAGE_SIZE = (480, 360)
JPEG_QUALITY = 90
START = datetime(2026, 3, 2, tzinfo=UTC)
BENCH_ZIPF = 1.0  # family popularity in the benchmark's synthetic store
BENCH_CASCADE_SIZE = 200


@dataclass(frozen=True)
class SimulationConfig:
    accounts: int = 300
    days: int = 21
    campaigns: int = 3
    seed: int = 0
    templates: int | None = None  # default: scales with the accounts (30..200)
    templates_dir: Path | None = None
    images: bool = True
    start: datetime = START
    bursts: int | None = None  # bursts per campaign; default: random in BURSTS

    def __post_init__(self) -> None:
        if self.accounts < 10 or self.days < 1 or self.campaigns < 0:
            raise BadInput("need at least 10 accounts, 1 day and 0 campaigns")

    @property
    def template_count(self) -> int:
        return self.templates or max(30, min(200, self.accounts // 25))


@dataclass
class SimulationSummary:
    out: Path
    accounts: int
    organic_accounts: int
    campaign_accounts: int
    sightings: int
    images: int
    templates: int
    campaigns: int
    manifest: Path
    truth: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "accounts": self.accounts,
                "organic_accounts": self.organic_accounts,
                "campaign_accounts": self.campaign_accounts, "sightings": self.sightings,
                "images": self.images, "templates": self.templates,
                "campaigns": self.campaigns, "manifest": str(self.manifest),
                "truth": str(self.truth)} | self.extra


# ---------------------------------------------------------------------------------- drawing


def draw_template(seed: int, size: tuple[int, int] = IMAGE_SIZE) -> Image.Image:
    """A textured synthetic scene, distinct per seed: a sky/ground split, shapes and hatching."""
    rng = np.random.default_rng(seed + 7919)
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    top, bottom = rng.uniform(30, 230, 3), rng.uniform(30, 230, 3)
    horizon = rng.uniform(0.3, 0.7) * height + 20 * np.sin(xx / rng.uniform(30, 90))
    img = np.where((yy < horizon)[..., None], top, bottom).astype(np.float32)
    freq = rng.uniform(0.02, 0.12, 2)
    img += (18 * np.sin(xx * freq[0] + yy * freq[1]))[..., None]
    img += rng.normal(0, 6, img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(12, 22))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        shape = int(rng.integers(0, 4))
        if shape == 0:
            axes = (int(rng.integers(8, 70)), int(rng.integers(8, 70)))
            cv2.ellipse(img, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
        elif shape == 1:
            pts = rng.integers(-60, 60, (int(rng.integers(3, 7)), 2)) + [cx, cy]
            cv2.fillPoly(img, [pts.astype(np.int32)], colour)
        elif shape == 2:
            for k in range(int(rng.integers(3, 9))):
                cv2.line(img, (cx + 7 * k, cy), (cx + 7 * k + 40, cy + 60), colour, 2)
        else:
            cv2.rectangle(img, (cx, cy), (cx + int(rng.integers(10, 80)),
                                          cy + int(rng.integers(10, 80))), colour, 3)
    return Image.fromarray(img)


def draw_cutout(seed: int, size: tuple[int, int] = (220, 300)) -> Image.Image:
    """A transparent 'person' cut-out (head and torso) with a textured, high-contrast inside."""
    rng = np.random.default_rng(seed + 104729)
    width, height = size
    mask = np.zeros((height, width), np.uint8)
    cv2.ellipse(mask, (width // 2, height // 4), (width // 5, height // 6), 0, 0, 360, 255, -1)
    cv2.ellipse(mask, (width // 2, height), (width // 2 - 4, height * 3 // 5), 0, 180, 360, 255, -1)
    texture = draw_template(seed + 5000, (width, height))
    rgb = np.asarray(texture).copy()
    for _ in range(10):
        c = tuple(int(v) for v in rng.integers(0, 256, 3))
        cv2.circle(rgb, (int(rng.integers(0, width)), int(rng.integers(0, height))),
                   int(rng.integers(6, 25)), c, -1)
    return Image.fromarray(np.dstack([rgb, mask]), "RGBA")


def _load_dir(folder: Path) -> tuple[list[Image.Image], list[Image.Image]]:
    """Templates (mostly opaque files) and cut-outs (15-85 % transparent) from a folder."""
    templates: list[Image.Image] = []
    cutouts: list[Image.Image] = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in {".png", ".jpg", ".jpeg", ".webp", ".gif"}:
            continue
        try:
            with warnings.catch_warnings(), Image.open(path) as im:
                warnings.simplefilter("ignore")  # e.g. corrupt EXIF in scraped files
                im.seek(0)
                rgba = im.convert("RGBA")
        except OSError:
            continue
        alpha = np.asarray(rgba.getchannel("A"))
        transparent = float((alpha < 16).mean())
        if 0.15 <= transparent <= 0.85:
            cutouts.append(rgba)
        elif transparent < 0.15:
            background = Image.new("RGB", rgba.size, (255, 255, 255))
            background.paste(rgba, mask=rgba.getchannel("A"))
            background.thumbnail((640, 640))
            templates.append(background)
    return templates, cutouts


# ---------------------------------------------------------------------------------- the log


@dataclass
class _Image:
    id: str
    template: int | None  # family (template index); None for an image with no template
    caption: str | None
    kind: str  # blank | caption | cutout_composite
    campaign: int | None = None
    cutout: int | None = None
    background: int | None = None


@dataclass
class _Account:
    platform: str
    handle: str
    campaign: int | None = None


def _handle(rng: random.Random, taken: set[tuple[str, str]], platform: str) -> str:
    syllables = ("ka", "ri", "to", "mo", "zen", "lu", "pa", "vi", "ne", "sol", "dar", "mi")
    while True:
        name = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 3)))
        suffix = rng.choice(("memes", "daily", "fan", "news", "x"))
        handle = f"{name}{rng.randint(1, 9999)}" if rng.random() < 0.7 else f"{name}_{suffix}"
        if (platform, handle) not in taken:
            taken.add((platform, handle))
            return handle


def _pick_platform(rng: random.Random) -> str:
    r = rng.random() * sum(p[1] for p in PLATFORMS)
    for name, share, _ in PLATFORMS:
        r -= share
        if r <= 0:
            return name
    return PLATFORMS[0][0]


_OFFSETS = {name: timezone(timedelta(hours=h)) for name, _s, h in PLATFORMS}
_SLOGANS = ("they don't want you to see this", "share before it's deleted", "wake up",
            "the truth is out", "everyone needs to know", "spread the word", "look closer")


def simulate(out: Path, config: SimulationConfig) -> SimulationSummary:
    """Write images, ``manifest.jsonl`` and ``truth.json`` under ``out`` (see the module docs)."""
    from memetrack.evaluation.variants import add_top_bottom_caption, composite_cutout, random_caption

    rng = random.Random(config.seed)
    out.mkdir(parents=True, exist_ok=True)
    images_dir = out / "images"
    if config.images:
        images_dir.mkdir(exist_ok=True)
        (out / "cutouts").mkdir(exist_ok=True)
    span = timedelta(days=config.days)
    loaded: tuple[list[Image.Image], list[Image.Image]] = ([], [])
    if config.templates_dir is not None:
        if not config.templates_dir.is_dir():
            raise BadInput(f"templates folder not found: {config.templates_dir}")
        loaded = _load_dir(config.templates_dir)
    n_templates = config.template_count
    if loaded[0]:
        n_templates = min(n_templates, len(loaded[0]))

    template_cache: dict[int, Image.Image] = {}

    def template(i: int) -> Image.Image:
        if i not in template_cache:
            template_cache[i] = (loaded[0][i].copy() if loaded[0]
                                 else draw_template(config.seed * 100_003 + i))
        return template_cache[i]

    images: dict[str, _Image] = {}

    def save(img: _Image, picture: Image.Image | None) -> None:
        images[img.id] = img
        if config.images and picture is not None:
            picture.convert("RGB").save(images_dir / f"{img.id}.jpg", "JPEG", quality=JPEG_QUALITY)

    # templates: Zipf popularity; a few variants each (more for popular ones)
    weights = [1.0 / (k + 1) ** TEMPLATE_ZIPF for k in range(n_templates)]
    rng.shuffle(weights)
    total_w = sum(weights)
    variants: dict[int, list[str]] = {}
    for t in range(n_templates):
        share = weights[t] / total_w
        count = 1 + min(5, int(share * 60))
        ids = []
        for v in range(count):
            image_id = f"t{t:03d}_v{v}"
            caption = None if v == 0 else random_caption(rng, (2, 6))
            picture = None
            if config.images:
                base = template(t)
                picture = base if caption is None else add_top_bottom_caption(
                    base, caption, random_caption(rng, (2, 5)))
            save(_Image(image_id, t, caption, "blank" if caption is None else "caption"), picture)
            ids.append(image_id)
        variants[t] = ids

    # accounts
    taken: set[tuple[str, str]] = set()
    accounts: list[_Account] = [_Account(p, _handle(rng, taken, p))
                                for p in (_pick_platform(rng) for _ in range(config.accounts))]
    aggregators = set(rng.sample(range(len(accounts)), max(1, int(len(accounts) * AGGREGATOR_SHARE))))

    rows: list[dict[str, Any]] = []
    post_counter = 0

    def post(account: _Account, image_id: str, when: datetime, text: str | None) -> None:
        nonlocal post_counter
        post_counter += 1
        post_id = f"{account.platform[:2]}{post_counter:09d}"
        local = when.astimezone(_OFFSETS[account.platform])
        collected = when + timedelta(minutes=rng.uniform(5, 36 * 60))
        row = {"platform": account.platform, "account": account.handle, "post_id": post_id,
               "url": f"https://{account.platform}.example/{account.handle}/{post_id}",
               "posted_at": local.isoformat(timespec="seconds"),
               "collected_at": collected.astimezone(UTC).isoformat(timespec="seconds")
               .replace("+00:00", "Z"),
               "text": text}
        if config.images:
            row = {"path": f"images/{image_id}.jpg"} | row
        else:
            row = {"image": image_id} | row
        rows.append(row)

    # organic cascades: each template trends several times, reposts follow with delays
    cascades: dict[int, list[datetime]] = {}
    for t in range(n_templates):
        n = 1 + int(weights[t] / total_w * 120)
        cascades[t] = sorted(config.start + span * rng.random() * 0.95 for _ in range(n))
    cum = np.cumsum(weights) / total_w
    hours = config.days * 24
    for index, account in enumerate(accounts):
        activity = ACTIVITY_SCALE * (rng.paretovariate(ACTIVITY_PARETO_ALPHA))
        n_posts = max(1, min(int(activity), int(hours * ACTIVITY_CAP_SHARE)))
        fast = index in aggregators
        for _ in range(n_posts):
            t = int(np.searchsorted(cum, rng.random() * cum[-1]))
            t = min(t, n_templates - 1)
            start = rng.choice(cascades[t])
            if fast:
                delay = rng.lognormvariate(math.log(AGGREGATOR_MEDIAN_DELAY_MIN * 60), AGGREGATOR_SIGMA)
            else:
                delay = rng.lognormvariate(math.log(CASCADE_MEDIAN_DELAY_H * 3600), CASCADE_SIGMA)
            when = start + timedelta(seconds=delay)
            if when >= config.start + span:
                when = config.start + span * rng.random()
            image_id = rng.choice(variants[t]) if rng.random() < 0.6 else variants[t][0]
            post(account, image_id, when, random_caption(rng, (0, 6)) or None)

    # campaigns
    cutout_pictures = loaded[1]
    truth_campaigns = []
    next_template = n_templates
    for c in range(config.campaigns):
        n_puppets = rng.randint(*PUPPETS)
        platforms = rng.sample([p[0] for p in PLATFORMS], rng.randint(*CAMPAIGN_PLATFORMS))
        puppets = []
        for k in range(n_puppets):
            platform = platforms[k % len(platforms)]
            puppets.append(_Account(platform, _handle(rng, taken, platform), campaign=c))
        accounts.extend(puppets)
        shells = rng.sample(range(n_templates), rng.randint(*CAMPAIGN_SHELLS))
        cutout_picture = None
        if config.images:
            cutout_picture = (cutout_pictures[c % len(cutout_pictures)] if cutout_pictures
                              else draw_cutout(config.seed * 31 + c))
            cutout_picture.save(out / "cutouts" / f"cutout{c}.png")
        background = next_template  # the composites' background is a template of its own
        next_template += 1
        days = rng.randint(*CAMPAIGN_DAYS)
        begin = config.start + span * rng.random() * max(0.0, 1 - days / config.days)
        n_bursts = config.bursts or rng.randint(*BURSTS)
        items = []
        slogan = rng.choice(_SLOGANS)
        for b in range(n_bursts):
            when = begin + timedelta(days=min(days, config.days) * rng.random())
            caption = random_caption(rng, (2, 6))
            image_id = f"c{c}_b{b:02d}"
            picture = None
            if b % 4 == 3:  # every fourth burst pushes the cut-out composite
                if config.images:
                    assert cutout_picture is not None
                    base = template(background) if loaded[0] and background < len(loaded[0]) \
                        else draw_template(config.seed * 100_003 + background)
                    composite = composite_cutout(base, cutout_picture, rng, size_frac=0.45,
                                                 mirror=False, caption=False, jpeg_quality=None)
                    picture = add_top_bottom_caption(composite.image, caption, slogan)
                save(_Image(image_id, background, caption, "cutout_composite", c, c, background),
                     picture)
            else:
                shell = shells[b % len(shells)]
                if config.images:
                    picture = add_top_bottom_caption(template(shell), caption, slogan)
                save(_Image(image_id, shell, caption, "caption", c), picture)
            items.append(image_id)
            tag = f"#{slogan.split()[-1]}{c}"
            for puppet in puppets:
                if rng.random() > BURST_PARTICIPATION:
                    continue
                delay = min(BURST_MAX_DELAY, rng.expovariate(1 / BURST_MEAN_DELAY))
                post(puppet, image_id, when + timedelta(seconds=delay), f"{slogan} {tag}")
            for _ in range(rng.randint(*AMPLIFICATION_REPOSTS)):
                organic = rng.randrange(config.accounts)
                later = when + timedelta(seconds=rng.lognormvariate(math.log(6 * 3600), 1.0))
                post(accounts[organic], image_id, later, None)
        truth_campaigns.append({
            "id": c, "platforms": sorted(platforms), "shells": sorted(shells),
            "cutout": f"cutouts/cutout{c}.png" if config.images else f"cutout{c}",
            "cutout_background": background, "items": items, "bursts": n_bursts,
            "accounts": [{"platform": p.platform, "account": p.handle} for p in puppets],
        })

    rows.sort(key=lambda r: (r["collected_at"], r["post_id"]))
    manifest = out / "manifest.jsonl"
    with manifest.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    truth = {
        "config": {"accounts": config.accounts, "days": config.days,
                   "campaigns": config.campaigns, "seed": config.seed, "bursts": config.bursts,
                   "templates": n_templates, "images": config.images,
                   "templates_dir": str(config.templates_dir) if config.templates_dir else None},
        "campaigns": truth_campaigns,
        "images": {i.id: {"path": f"images/{i.id}.jpg" if config.images else None,
                          "template": i.template, "caption": i.caption, "kind": i.kind,
                          "campaign": i.campaign, "cutout": i.cutout}
                   for i in images.values()},
        "aggregators": [{"platform": accounts[i].platform, "account": accounts[i].handle}
                        for i in sorted(aggregators)],
    }
    truth_path = out / "truth.json"
    truth_path.write_text(json.dumps(truth, indent=1))
    campaign_accounts = sum(len(c["accounts"]) for c in truth_campaigns)
    return SimulationSummary(out, len(accounts), config.accounts, campaign_accounts, len(rows),
                             len(images), next_template, config.campaigns, manifest, truth_path)


# ------------------------------------------------------------------------ scoring and loading


def campaign_accounts(truth: dict[str, Any]) -> set[tuple[str, str]]:
    return {(a["platform"], a["account"]) for c in truth["campaigns"] for a in c["accounts"]}


def score_accounts(found: set[tuple[str, str]], truth: dict[str, Any]) -> dict[str, float]:
    """Precision and recall of the accounts put in coordination groups against the truth."""
    planted = campaign_accounts(truth)
    hits = len(found & planted)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(planted) if planted else 1.0
    return {"found": len(found), "planted": len(planted), "true_positives": hits,
            "precision": round(precision, 4), "recall": round(recall, 4)}


def manifest_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


# ------------------------------------------------------------------- the benchmark's data


@dataclass(frozen=True)
class BenchShape:
    """The shape of the synthetic store ``memetrack bench spread`` builds (no images)."""

    sightings: int = 1_000_000
    accounts: int = 50_000
    platforms: int = 5
    families: int = 10_000
    media_per_family: int = 10
    variants_per_family: int = 5
    days: int = 30
    campaigns: int = 5
    puppets: int = 10
    bursts: int = 20
    seed: int = 0

    @property
    def media(self) -> int:
        return self.families * self.media_per_family

    def describe(self) -> str:
        return (f"{self.sightings} sightings over {self.days} days, {self.accounts} accounts on "
                f"{self.platforms} platforms, {self.families} families x {self.media_per_family} "
                f"media ({self.variants_per_family} variants each), Zipf({BENCH_ZIPF}) family "
                f"popularity, cascades of ~{BENCH_CASCADE_SIZE} sightings with log-normal delays "
                f"(median {CASCADE_MEDIAN_DELAY_H:g} h), Pareto({ACTIVITY_PARETO_ALPHA}) account "
                f"activity, {self.campaigns} planted campaigns of {self.puppets} "
                f"accounts x {self.bursts} bursts")


def bench_columns(shape: BenchShape) -> dict[str, np.ndarray]:
    """Column arrays of a synthetic sighting log (vectorised; a million rows in about a second).

    ``media`` (0-based), ``account`` (0-based), ``t`` (seconds after the start). Media ``m``
    belongs to family ``m // media_per_family`` and variant ``m // (media_per_family //
    variants_per_family)``; account ``a`` is on platform ``a % platforms``.
    """
    rng = np.random.default_rng(shape.seed)
    n_campaign = shape.campaigns * shape.puppets * shape.bursts
    n = shape.sightings - n_campaign
    ranks = np.arange(1, shape.families + 1, dtype=np.float64)
    popularity = 1 / ranks ** BENCH_ZIPF
    popularity /= popularity.sum()
    family = rng.choice(shape.families, size=n, p=popularity)
    media = family * shape.media_per_family + rng.integers(0, shape.media_per_family, n)
    activity = rng.pareto(ACTIVITY_PARETO_ALPHA, shape.accounts) + 1
    activity /= activity.sum()
    account = rng.choice(shape.accounts, size=n, p=activity)
    # cascades: a family trends as often as it is popular (about BENCH_CASCADE_SIZE sightings
    # each); reposts follow a cascade's start with log-normal delays (hours)
    seconds = shape.days * 86400
    per_family = np.maximum(1, np.round(popularity * n / BENCH_CASCADE_SIZE)).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(per_family)[:-1]])
    cascade_starts = rng.uniform(0, seconds * 0.95, int(per_family.sum()))
    cascade = offsets[family] + (rng.random(n) * per_family[family]).astype(np.int64)
    t = (cascade_starts[cascade] + rng.lognormal(
        math.log(CASCADE_MEDIAN_DELAY_H * 3600), CASCADE_SIGMA, n)) % seconds
    # campaigns: puppets are the last accounts; each burst posts one media within minutes
    c_media, c_account, c_t = [], [], []
    for c in range(shape.campaigns):
        puppets = shape.accounts - 1 - np.arange(c * shape.puppets, (c + 1) * shape.puppets)
        begin = rng.uniform(0, seconds * 0.6)
        fams = rng.choice(shape.families, 3, replace=False)
        for _b in range(shape.bursts):
            when = begin + rng.uniform(0, 10 * 86400)
            m = fams[rng.integers(0, 3)] * shape.media_per_family + rng.integers(
                0, shape.media_per_family)
            c_media.append(np.full(shape.puppets, m))
            c_account.append(puppets)
            c_t.append(when + np.minimum(rng.exponential(BURST_MEAN_DELAY, shape.puppets),
                                         BURST_MAX_DELAY))
    if c_media:
        media = np.concatenate([media, *c_media])
        account = np.concatenate([account, *c_account])
        t = np.concatenate([t, *c_t])
    order = rng.permutation(len(media))
    return {"media": media[order].astype(np.int64), "account": account[order].astype(np.int64),
            "t": t[order]}
