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

    summary = app.index_paths(
        [Path(p) for p in args.paths], Path(args.manifest) if args.manifest else None,
        workers=args.workers, progress=False if args.no_progress else None, on_error=on_error,
    )
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        rate = summary.files / summary.seconds if summary.seconds else 0.0
        print(f"files: {summary.files}  indexed: {summary.indexed}  "
              f"already known: {summary.already_known}  failed: {len(summary.failed)}")
        print(f"sightings added: {summary.sightings_added}  "
              f"already known: {summary.sightings_known}")
        print(f"took {summary.seconds:.1f} s ({rate:.1f} files/s); "
              f"store holds {app.store.count_media()} media")
    return EXIT_PARTIAL if summary.failed else EXIT_OK


def _format_report(report: MatchReport) -> str:
    lines = [f"query sha256 {report.query_sha256}" if report.query_sha256 else "query hash"]
    for algo, hexval in report.query_hashes.items():
        lines.append(f"  {algo:6s} {hexval}")
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


def report_to_dict(report: MatchReport) -> dict[str, Any]:
    return {
        "query": {"sha256": report.query_sha256 or None, "hashes": report.query_hashes},
        "matches": [
            {
                "media_id": n.media_id, "algorithm": n.algorithm, "distance": n.distance,
                "transform": n.transform,
                "media": report.media[n.media_id].to_dict() if n.media_id in report.media
                else None,
                "sightings": [s.to_dict() for s in report.sightings.get(n.media_id, ())],
            }
            for n in report.neighbours
        ],
    }


def cmd_match(args: argparse.Namespace, settings: Settings) -> int:
    from memetrack.imageio import read_capped

    data = read_capped(Path(args.image), settings.max_image_bytes)
    with _app(settings) as app:
        app.load_indexes()
        report = app.match_bytes(data, args.limit)
    print(json.dumps(report_to_dict(report), indent=2) if args.json else _format_report(report))
    return EXIT_OK


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    with _app(settings) as app:
        app.store.require_current()
        media = app.store.get_media(args.media_id)
        sightings = app.store.sightings_for_media([media.id]).get(media.id, ())
    out = media.to_dict() | {"sightings": [s.to_dict() for s in sightings]}
    print(json.dumps(out, indent=2))
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


def cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    from memetrack.config import documented_settings

    print("| variable | default | meaning |\n| --- | --- | --- |")
    for name, default, help_text in documented_settings():
        print(f"| `{name}` | `{default}` | {help_text} |")
    return EXIT_OK


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
    p.add_argument("--workers", type=int, help="hashing processes (default: one per core)")
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

    p = sub.add_parser("rebuild-index", help="rebuild the FAISS indexes from the store")
    p.set_defaults(handler=cmd_rebuild_index)

    from memetrack import cli_spread

    cli_spread.register(sub)

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
