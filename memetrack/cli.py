"""The ``memetrack`` command line. Errors map to exit codes in one table (``memetrack.errors``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from memetrack.config import Settings
from memetrack.errors import EXIT_OK, EXIT_PARTIAL, MemetrackError, exit_code_for
from memetrack.records import MatchReport

Handler = Callable[[argparse.Namespace, Settings], int]


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    return Settings(**overrides)


def _app(settings: Settings):  # type: ignore[no-untyped-def]
    from memetrack.pipeline import Memetrack

    return Memetrack(settings)


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from memetrack.store import open_store
    from memetrack.store.migrate import head_revision

    store = open_store(settings)
    try:
        store.upgrade()
        print(f"store at revision {head_revision()} ({store.dialect}: {_safe_url(store.url)})")
    finally:
        store.close()
    return EXIT_OK


def cmd_db_current(args: argparse.Namespace, settings: Settings) -> int:
    from memetrack.store import open_store
    from memetrack.store.migrate import head_revision

    store = open_store(settings)
    try:
        rev = store.schema_revision()
    finally:
        store.close()
    print(f"current: {rev or 'none'}  head: {head_revision()}")
    return EXIT_OK if rev == head_revision() else 1


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    if not args.paths and not args.manifest:
        raise MemetrackError("give at least one PATH or --manifest FILE")
    with _app(settings) as app:
        return _index(app, args)


def _index(app, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    app.load_indexes()

    def on_error(where: str, code: str, message: str) -> None:
        if not args.json:
            print(f"failed: {where}: [{code}] {message}", file=sys.stderr)

    dask = args.dask or ("local" if args.dask_local else None)
    summary = app.index_paths(
        [Path(p) for p in args.paths], Path(args.manifest) if args.manifest else None,
        workers=args.workers, dask=dask, progress=False if args.no_progress else None,
        retry_failed=args.retry_failed, on_error=on_error,
    )
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        rate = summary.files / summary.seconds if summary.seconds else 0.0
        print(f"files: {summary.files}  indexed: {summary.indexed}  "
              f"already known: {summary.already_known}  failed: {len(summary.failed)}")
        print(f"sightings added: {summary.sightings_added}  "
              f"already known: {summary.sightings_known}")
        if summary.unchanged:
            print(f"{summary.unchanged} files finished by an earlier run were not read again")
        print(f"took {summary.seconds:.1f} s ({rate:.1f} files/s); "
              f"store holds {app.store.count_media()} media")
    return EXIT_PARTIAL if summary.failed else EXIT_OK


def _format_report(report: MatchReport) -> str:
    lines = [f"query sha256 {report.query_sha256}" if report.query_sha256 else "query hash"]
    for algo, hexval in report.query_hashes.items():
        lines.append(f"  {algo:6s} {hexval}")
    for t in report.templates:
        name = f" ({t.family.name})" if t.family.name else ""
        lines.append(f"template family {t.family.id}{name}: {t.kind} match, score {t.score:.2f}, "
                     f"{t.family.member_count} members")
    if not report.templates:
        lines.append("no known template family")
    if not report.neighbours:
        lines.append("no near-duplicates found")
        return "\n".join(lines)
    lines.append(f"{len(report.neighbours)} near-duplicate(s):")
    for n in report.neighbours:
        media = report.media.get(n.media_id)
        desc = f"{media.width}x{media.height} {media.format}" if media else ""
        extra = "" if n.transform == "original" else f", {n.transform}"
        lines.append(f"  media {n.media_id}  {n.algorithm} distance {n.distance}{extra}  {desc}")
        for s in report.sightings.get(n.media_id, ()):
            when = s.posted_at.isoformat() if s.posted_at else "?"
            who = f"@{s.account}" if s.account else "(unknown account)"
            lines.append(f"      {when}  {s.platform:10s} {who}  {s.url or s.post_id or ''}")
    return "\n".join(lines)


def cmd_match(args: argparse.Namespace, settings: Settings) -> int:
    from memetrack.imageio import read_capped

    data = read_capped(Path(args.image), settings.max_image_bytes)
    with _app(settings) as app:
        app.load_indexes()
        report = app.match_bytes(data, args.limit)
    print(json.dumps(report.to_dict(), indent=2) if args.json else _format_report(report))
    return EXIT_OK


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    with _app(settings) as app:
        app.store.require_current()
        media = app.store.get_media(args.media_id)
        sightings = app.store.sightings_for_media([media.id]).get(media.id, ())
    out = media.to_dict() | {"sightings": [s.to_dict() for s in sightings]}
    print(json.dumps(out, indent=2))
    return EXIT_OK


def cmd_failures(args: argparse.Namespace, settings: Settings) -> int:
    with _app(settings) as app:
        app.store.require_current()
        failed = app.store.failed_files(args.limit)
    if args.json:
        print(json.dumps([{"path": f.path, "code": f.error_code, "message": f.error}
                          for f in failed], indent=2))
    else:
        for f in failed:
            print(f"{f.path}: [{f.error_code}] {f.error}")
        print(f"{len(failed)} failed file(s); `memetrack index ... --retry-failed` tries again")
    return EXIT_OK


def cmd_rebuild_index(args: argparse.Namespace, settings: Settings) -> int:
    with _app(settings) as app:
        added = app.rebuild_indexes()
        print(f"rebuilt indexes from the store: {added} hashes; sizes {app.indexes.sizes()}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from service.main import create_app

    host = args.host or settings.host
    port = args.port or settings.port
    print(f"serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
    return EXIT_OK


def _family_line(f) -> str:  # type: ignore[no-untyped-def]
    name = f.name or "(unnamed)"
    shell = ", registered shell" if f.registered_shell else ""
    return (f"family {f.id:>5}  {name:30s} {f.member_count:>5} members  {f.variant_count:>4} variants"
            f"  representative media {f.representative_media_id}{shell}")


def cmd_families(args: argparse.Namespace, settings: Settings) -> int:
    with _app(settings) as app:
        action = args.families_command
        if action == "list":
            items = app.store.families.list(args.limit, args.offset)
            if args.json:
                print(json.dumps([f.to_dict() for f in items], indent=2))
            else:
                print("\n".join(_family_line(f) for f in items) or "no families yet")
            return EXIT_OK
        if action == "show":
            family = app.store.families.get(args.family_id)
            members = app.store.families.members(family.id, limit=args.limit)
            if args.json:
                print(json.dumps(family.to_dict() | {"members": [m.to_dict() for m in members]},
                                 indent=2))
            else:
                print(_family_line(family))
                if family.notes:
                    print(f"  notes: {family.notes}")
                for m in members:
                    ev = m.evidence
                    how = (f"inliers {ev.get('inliers')}" if m.kind == "verified"
                           else f"appearance {ev.get('appearance')}" if m.kind == "dense"
                           else f"pdq {ev.get('pdq_distance')}" if ev else "")
                    print(f"  media {m.media_id:>6}  variant {m.variant_id}  {m.kind:14s}"
                          f" score {m.score:.2f}  {how}")
            return EXIT_OK
        if action == "rename":
            print(_family_line(app.rename_family(args.family_id, name=args.name, notes=args.notes)))
            return EXIT_OK
        if action == "merge":
            print(_family_line(app.merge_families(args.into, args.source)))
            return EXIT_OK
        app.load_indexes()
        if action == "register":
            from memetrack.imageio import read_capped

            data = read_capped(Path(args.image), settings.max_image_bytes)
            family = app.register_shell(data, name=args.name, notes=args.notes)
            print(_family_line(family))
        elif action == "remove":
            moved = app.remove_from_family(args.media_id, wrong_match=args.wrong)
            where = f"now founds family {moved.family_id}" if moved else "has no family"
            marked = " (marked as a wrong match)" if args.wrong else ""
            print(f"media {args.media_id} moved out{marked}; it {where}")
        elif action == "rebuild":
            count = app.rebuild_families(progress=None)
            print(f"rebuilt families: {count} families over {app.store.count_media()} media")
        elif action == "shell":
            from PIL import Image

            pixels, used = app.recover_shell(args.family_id)
            Image.fromarray(pixels).save(args.out)
            print(f"wrote {args.out} ({pixels.shape[1]}x{pixels.shape[0]}, from {used} members)")
        app.save_indexes()
    return EXIT_OK


def cmd_bench_index(args: argparse.Namespace, settings: Settings) -> int:
    from memetrack.bench import bench_index

    result = bench_index(args.files, args.workers, args.seed,
                         Path(args.keep) if args.keep else None)
    print(result.to_json() if args.json else result.table())
    return EXIT_OK


def cmd_bench_search(args: argparse.Namespace, settings: Settings) -> int:
    from memetrack.bench import bench_search

    sizes = tuple(int(s) for s in args.sizes.split(","))
    result = bench_search(sizes, args.queries, args.seed, args.kind)
    print(json.dumps(result.rows, indent=2) if args.json else result.table())
    return EXIT_OK


def cmd_bench_pdq_scale(args: argparse.Namespace, settings: Settings) -> int:
    from memetrack.bench import bench_pdq_scale

    sides = tuple(int(s) for s in args.sides.split(","))
    result = bench_pdq_scale(Path(args.images), sides)
    print(json.dumps(result.rows, indent=2) if args.json else result.table())
    return EXIT_OK


def cmd_eval_shells(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import asdict

    from memetrack.evaluation.shells import format_seeds, format_table, pooled, run_shell_eval

    def progress(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr)

    seeds = args.seeds or [args.seed]
    reports = [run_shell_eval(
        args.templates, seed=seed, holdout_frac=args.holdout, index_size=args.index_size,
        kinds=args.kinds.split(",") if args.kinds else None, split=args.split,
        settings=settings.matcher, baselines=not args.no_baselines, progress=progress,
    ) for seed in seeds]
    if args.json:
        out = []
        for report in reports:
            methods = sorted({r.method for r in report.rows})
            out.append(asdict(report) | {"pooled": {m: pooled(report, m) for m in methods}})
        print(json.dumps(out[0] if not args.seeds else out, indent=2, default=str))
    else:
        print("\n".join(format_table(r) for r in reports))
        if len(reports) > 1:
            print(format_seeds(reports))
    return EXIT_OK


def cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    from memetrack.config import documented_settings

    print("| variable | default | meaning |\n| --- | --- | --- |")
    for name, default, help_text in documented_settings():
        print(f"| `{name}` | `{default}` | {help_text} |")
    return EXIT_OK


def seed_list(text: str) -> list[int]:
    """``--seeds`` value: comma-separated integers."""
    try:
        seeds = [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated whole numbers, got {text!r}") from None
    return seeds


def subcommands(sub: argparse._SubParsersAction, name: str,  # type: ignore[type-arg]
                help_text: str) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    """The subcommands of command ``name``, created on first use (modules share e.g. ``eval``)."""
    if name not in sub.choices:
        sub.add_parser(name, help=help_text).add_subparsers(dest=f"{name}_command", required=True)
    parser = sub.choices[name]
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memetrack", description="Track meme templates, cut-outs and their spread.")
    parser.add_argument("--data-dir", help="override MEMETRACK_DATA_DIR")
    parser.add_argument("--database-url", help="override MEMETRACK_DATABASE_URL")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="manage the store's schema")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    dbsub.add_parser("upgrade", help="run the migrations up to the newest revision"
                     ).set_defaults(handler=cmd_db_upgrade)
    dbsub.add_parser("current", help="show the store's schema revision"
                     ).set_defaults(handler=cmd_db_current)

    p = sub.add_parser("index", help="index image files/folders and/or a sighting manifest")
    p.add_argument("paths", nargs="*", help="image files or folders (searched recursively)")
    p.add_argument("--manifest", help="JSONL or CSV of sightings (path, platform, account, ...)")
    p.add_argument("--workers", type=int,
                   help="hashing processes (default: one per core; with --dask-local: workers)")
    p.add_argument("--dask", metavar="SCHEDULER_ADDRESS",
                   help="hash on a Dask cluster, e.g. tcp://10.0.0.5:8786 (workers must see the "
                        "same file paths)")
    p.add_argument("--dask-local", action="store_true",
                   help="hash on a local Dask cluster of --workers processes")
    p.add_argument("--retry-failed", action="store_true",
                   help="try again files that failed in an earlier run (default: report them)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_index)

    p = sub.add_parser("match", help="find near-duplicates of an image (nothing is stored)")
    p.add_argument("image")
    p.add_argument("--limit", type=int, help="most matches to show")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_match)

    p = sub.add_parser("show", help="show one media with its hashes and sightings (JSON)")
    p.add_argument("media_id", type=int)
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser("failures", help="files that failed to index, with the reason")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_failures)

    p = sub.add_parser("rebuild-index", help="rebuild the FAISS indexes from the store")
    p.set_defaults(handler=cmd_rebuild_index)

    p = sub.add_parser("families", help="template families and their curation")
    fsub = p.add_subparsers(dest="families_command", required=True)
    q = fsub.add_parser("list", help="list families")
    q.add_argument("--limit", type=int, default=100)
    q.add_argument("--offset", type=int, default=0)
    q.add_argument("--json", action="store_true")
    q = fsub.add_parser("show", help="a family with its members and how each matched")
    q.add_argument("family_id", type=int)
    q.add_argument("--limit", type=int, default=200)
    q.add_argument("--json", action="store_true")
    q = fsub.add_parser("register", help="register a known blank shell as a new family")
    q.add_argument("image")
    q.add_argument("--name")
    q.add_argument("--notes")
    q = fsub.add_parser("rename", help="set a family's name and/or notes")
    q.add_argument("family_id", type=int)
    q.add_argument("--name")
    q.add_argument("--notes")
    q = fsub.add_parser("merge", help="merge family SOURCE into family INTO")
    q.add_argument("into", type=int)
    q.add_argument("source", type=int)
    q = fsub.add_parser("remove", help="move a media out of its family")
    q.add_argument("media_id", type=int)
    q.add_argument("--wrong", action="store_true",
                   help="mark the match as wrong: it is never made again")
    fsub.add_parser("rebuild", help="reassign every media from scratch (deterministic)")
    q = fsub.add_parser("shell", help="write the recovered blank shell of a family")
    q.add_argument("family_id", type=int)
    q.add_argument("--out", required=True, help="output image file (.png, .jpg)")
    p.set_defaults(handler=cmd_families)


    from memetrack import cli_cutouts, cli_spread

    cli_cutouts.register(sub)
    cli_spread.register(sub)

    bsub = subcommands(sub, "bench", "measure speed (never part of the tests)")
    q = bsub.add_parser("index", help="indexing throughput against decode-alone and a naive "
                        "imagehash loop, on generated files")
    q.add_argument("--files", type=int, default=2000)
    q.add_argument("--workers", type=int, help="processes (default: one per core)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--keep", help="generate the files into (or reuse them from) this folder")
    q.add_argument("--json", action="store_true")
    q.set_defaults(handler=cmd_bench_index)
    q = bsub.add_parser("search", help="global-hash match latency and memory at several sizes")
    q.add_argument("--sizes", default="10000,100000,1000000")
    q.add_argument("--queries", type=int, default=200)
    q.add_argument("--kind", choices=("flat", "multihash"), default="flat",
                   help="the PDQ index kind (MEMETRACK_HASH_INDEX)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--json", action="store_true")
    q.set_defaults(handler=cmd_bench_search)
    q = bsub.add_parser("pdq-scale", help="PDQ of downscaled copies against PDQ of the full "
                        "image (distance and time), on a folder of images")
    q.add_argument("--images", required=True, help="folder of images (larger ones are used)")
    q.add_argument("--sides", default="256,384,512,1024")
    q.add_argument("--json", action="store_true")
    q.set_defaults(handler=cmd_bench_pdq_scale)

    esub = subcommands(sub, "eval", "measure quality on generated, labelled benchmarks")
    q = esub.add_parser("shells", help="template-family recall, false positives and time per "
                        "variant kind, against plain PDQ and pHash")
    q.add_argument("--templates", required=True, help="folder of template images")
    q.add_argument("--split", choices=("dev", "test", "all"), default="test",
                   help="which memes to report (thresholds are calibrated on dev only)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--seeds", type=seed_list,
                   help="comma-separated seeds: one run each (another choice of "
                   "held-out memes and variants), then recall and false positives pooled")
    q.add_argument("--holdout", type=float, default=0.3,
                   help="share of memes held out as never-indexed negatives")
    q.add_argument("--index-size", type=int, default=2000,
                   help="indexed references (templates plus generated distractors)")
    q.add_argument("--kinds", help="comma-separated variant kinds (default: all)")
    q.add_argument("--no-baselines", action="store_true")
    q.add_argument("--quiet", action="store_true")
    q.add_argument("--json", action="store_true")
    q.set_defaults(handler=cmd_eval_shells)

    p = sub.add_parser("settings", help="list every setting with its default (Markdown)")
    p.set_defaults(handler=cmd_settings)

    p = sub.add_parser("serve", help="start the HTTP API")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(handler=cmd_serve)
    return parser


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}@{host}"
    return url


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
        return args.handler(args, settings)
    except MemetrackError as exc:
        print(f"error: [{exc.code}] {exc.message}", file=sys.stderr)
        return exit_code_for(exc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `memetrack ... | head`
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
