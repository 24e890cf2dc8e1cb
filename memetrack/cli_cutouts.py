"""CLI commands for cut-outs: ``memetrack cutouts ...`` and ``memetrack eval cutouts``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from memetrack.config import Settings
from memetrack.errors import EXIT_OK


def _app(settings: Settings):  # type: ignore[no-untyped-def]
    from memetrack.pipeline import Memetrack

    return Memetrack(settings)


def _line(c) -> str:  # type: ignore[no-untyped-def]
    name = c.name or "(unnamed)"
    return (f"cut-out {c.id:>5}  {name:30s} {c.occurrence_count:>5} occurrences"
            f"  media {c.media_id}")


def _when(value) -> str:  # type: ignore[no-untyped-def]
    return value.isoformat() if value is not None else "-"


def _print_report(report) -> None:  # type: ignore[no-untyped-def]
    c = report.cutout
    print(_line(c))
    if c.notes:
        print(f"  notes: {c.notes}")
    print(f"  found in {len(report.media_ids)} media, {report.sightings} sightings; "
          f"first seen {_when(report.first_seen)}, last seen {_when(report.last_seen)}")
    if report.media_ids:
        print("  media: " + ", ".join(str(m) for m in report.media_ids))
    for f in report.families:
        print(f"  family {f.family_id:>5}  {f.name or '(unnamed)':30s} {f.media} media")
    for p in report.platforms:
        print(f"  platform {p.platform:12s} {p.sightings:>5} sightings {p.media:>4} media  "
              f"{_when(p.first_seen)} .. {_when(p.last_seen)}")
    for a in report.accounts:
        print(f"  account {a.platform}/{a.account}: {a.sightings} sightings  "
              f"{_when(a.first_seen)} .. {_when(a.last_seen)}")


def cmd_cutouts(args: argparse.Namespace, settings: Settings) -> int:
    with _app(settings) as app:
        action = args.cutouts_command
        if action == "list":
            items = app.store.cutouts.list(args.limit, args.offset)
            if args.json:
                print(json.dumps([c.to_dict() for c in items], indent=2))
            else:
                print("\n".join(_line(c) for c in items) or "no cut-outs registered yet")
            return EXIT_OK
        if action == "show":
            report = app.cutout_report(args.cutout_id)
            if args.json:
                occ = app.store.cutouts.occurrences(args.cutout_id)
                print(json.dumps(report.to_dict() | {
                    "occurrences": [o.to_dict() for o in occ],
                    "backfill": app.backfill_status(args.cutout_id)}, indent=2))
            else:
                _print_report(report)
                status = app.backfill_status(args.cutout_id)
                if status is not None:
                    print(f"backfill: {status['state']}, {status['done']} of {status['total']} "
                          f"media searched, {status['found']} found")
            return EXIT_OK
        if action == "rename":
            print(_line(app.rename_cutout(args.cutout_id, name=args.name, notes=args.notes)))
            return EXIT_OK
        if action == "delete":
            app.delete_cutout(args.cutout_id)
            print(f"deleted cut-out {args.cutout_id} and its occurrences")
            return EXIT_OK
        app.load_indexes()
        progress = None if not args.no_progress else False
        if action == "register":
            from memetrack.imageio import read_capped

            data = read_capped(Path(args.image), settings.max_image_bytes)
            cutout, created = app.add_cutout(data, name=args.name, notes=args.notes,
                                             backfill=not args.no_backfill, progress=progress)
            if args.json:
                print(json.dumps(cutout.to_dict() | {"created": created}, indent=2))
            else:
                how = "registered" if created else "already registered as"
                print(f"{how}: {_line(cutout)}")
        elif action == "backfill" and args.resume:
            resumed = app.resume_backfills(progress=progress)
            print(f"backfill: {resumed} interrupted backfill(s) finished")
        elif action == "backfill":
            ids = args.cutout_ids or app.store.cutouts.ids()
            found = app.backfill_job(ids, progress=progress)
            print(f"backfill: {found} occurrences recorded over {app.store.count_media()} media")
    return EXIT_OK


def cmd_eval_cutouts(args: argparse.Namespace, settings: Settings) -> int:
    from memetrack.evaluation.cutouts import (
        format_missed,
        format_seeds,
        format_table,
        run_cutout_eval,
    )

    def say(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    seeds = args.seeds or [args.seed]
    reports = [run_cutout_eval(
        args.cutouts, args.backgrounds, seed=seed, split=args.split,
        holdout_frac=args.holdout, per_bucket=args.per_bucket,
        negatives_per_bucket=args.negatives_per_bucket, scale_to=args.scale_to,
        settings=settings.cutouts, progress=say) for seed in seeds]
    if args.json:
        out = [{
            "split": report.split, "seed": report.seed, "registered": report.n_registered,
            "heldout": report.n_heldout, "backgrounds": report.n_backgrounds,
            "scaled_to": report.n_scaled, "rows": [r.__dict__ for r in report.rows],
            "misses": [m.__dict__ for m in report.misses], "settings": report.settings,
        } for report in reports]
        print(json.dumps(out[0] if not args.seeds else out, indent=2, default=str))
    else:
        print("\n".join(format_table(r) for r in reports))
        if len(reports) > 1:
            print(format_seeds(reports))
        missed = format_missed(reports)
        if missed:
            print(missed)
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add this module's subcommands to the ``memetrack`` parser."""
    p = sub.add_parser("cutouts", help="registered transparent cut-outs and where they appear")
    csub = p.add_subparsers(dest="cutouts_command", required=True)
    q = csub.add_parser("register", help="register an RGBA image as a cut-out (then backfill)")
    q.add_argument("image")
    q.add_argument("--name")
    q.add_argument("--notes")
    q.add_argument("--no-backfill", action="store_true",
                   help="do not search the media already indexed for it now")
    q.add_argument("--no-progress", action="store_true", help="no progress bar")
    q.add_argument("--json", action="store_true")
    q = csub.add_parser("list", help="list registered cut-outs")
    q.add_argument("--limit", type=int, default=100)
    q.add_argument("--offset", type=int, default=0)
    q.add_argument("--json", action="store_true")
    q = csub.add_parser("show", help="where a cut-out appears: media, families, accounts, "
                        "platforms, first and last seen")
    q.add_argument("cutout_id", type=int)
    q.add_argument("--json", action="store_true", help="the report with every occurrence")
    q = csub.add_parser("rename", help="set a cut-out's name and/or notes")
    q.add_argument("cutout_id", type=int)
    q.add_argument("--name")
    q.add_argument("--notes")
    q = csub.add_parser("delete", help="forget a cut-out and its occurrences")
    q.add_argument("cutout_id", type=int)
    q = csub.add_parser("backfill", help="search every indexed media for these cut-outs "
                        "(default: all)")
    q.add_argument("cutout_ids", type=int, nargs="*")
    q.add_argument("--resume", action="store_true",
                   help="finish the backfills a stopped process left running instead")
    q.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_cutouts)

    from memetrack.cli import seed_list, subcommands

    p = subcommands(sub, "eval", "measure quality on generated, labelled benchmarks").add_parser(
        "cutouts", help="evaluate cut-out detection on generated composites")
    p.add_argument("--cutouts", required=True, help="folder with the RGBA cut-outs")
    p.add_argument("--backgrounds", help="folder with background images (default: --cutouts)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=seed_list,
                   help="comma-separated seeds: one run each (another draw of "
                   "held-out memes and composites), then recall pooled over them")
    p.add_argument("--split", choices=("dev", "test", "all"), default="dev",
                   help="memes to use: dev for calibration, test for reporting")
    p.add_argument("--holdout", type=float, default=0.3,
                   help="share of the memes held out as negatives (default 0.3)")
    p.add_argument("--per-bucket", type=int, default=3,
                   help="composites per registered cut-out and size bucket")
    p.add_argument("--negatives-per-bucket", type=int, default=6,
                   help="composites per held-out cut-out and size bucket")
    p.add_argument("--scale-to", type=int, default=500,
                   help="run again with this many registered cut-outs (distractors added); "
                   "0 to skip")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(handler=cmd_eval_cutouts)
