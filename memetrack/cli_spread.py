"""CLI commands for spread reports, coordination, accounts, the simulator and the benchmark."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from memetrack.config import Settings
from memetrack.errors import EXIT_OK, BadInput

Handler = Any


def _store(settings: Settings):  # type: ignore[no-untyped-def]
    from memetrack.store import open_store

    store = open_store(settings)
    try:
        store.require_current()
    except Exception:
        store.close()
        raise
    return closing(store)


def _filters(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from memetrack.spread import SpreadFilter

    return SpreadFilter.parse(platform=args.platform, since=args.since, until=args.until,
                              account=getattr(args, "account", None))


def _write(path: str, data: str | bytes) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        target.write_bytes(data)
    else:
        target.write_text(data, encoding="utf-8")


# ------------------------------------------------------------------------------ report


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from memetrack.spread import Target, format_report, report_to_csv
    from memetrack.store.spread import spread_report

    target = Target(args.kind, args.id)
    filters = _filters(args)
    with _store(settings) as store:
        report = spread_report(store, target, filters, bucket=args.bucket, top=args.top)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    elif args.csv:
        sys.stdout.write(report_to_csv(report))
    else:
        print(format_report(report))
    return EXIT_OK


# ------------------------------------------------------------------------------ coordination


def cmd_coordination(args: argparse.Namespace, settings: Settings) -> int:
    from memetrack import network
    from memetrack.coordination import CoordinationParams, find_coordination, format_result

    params = CoordinationParams.parse(args.window, min_repetitions=args.min_repetitions,
                                      level=args.level, min_overlap=args.min_overlap,
                                      min_group_size=args.min_group_size,
                                      filters=_filters(args))
    with _store(settings) as store:
        result = find_coordination(store, params)
    for path, render in ((args.graphml, network.to_graphml), (args.gexf, network.to_gexf),
                         (args.edges_csv, network.to_edges_csv),
                         (args.nodes_csv, network.to_nodes_csv)):
        if path:
            _write(path, render(result))
    scores = None
    if args.truth:
        from memetrack.simulate import score_accounts

        truth = json.loads(Path(args.truth).read_text(encoding="utf-8"))
        found = {(a.platform, a.handle) for g in result.groups for a in g.accounts}
        scores = score_accounts(found, truth)
    if args.json:
        out = result.to_dict()
        if scores is not None:
            out["truth"] = scores
        print(json.dumps(out, indent=2))
    else:
        print(format_result(result))
        if scores is not None:
            print(f"against the truth: {scores}")
    return EXIT_OK


# ------------------------------------------------------------------------------ accounts


def cmd_accounts(args: argparse.Namespace, settings: Settings) -> int:
    from memetrack.store.spread import list_accounts, list_platforms

    with _store(settings) as store:
        accounts = list_accounts(store, args.platform, limit=args.limit, order=args.order)
        platforms = list_platforms(store)
    if args.json:
        print(json.dumps({
            "platforms": [{"name": n, "sightings": s, "first_seen_at": _iso(f),
                           "last_seen_at": _iso(last), "accounts": a}
                          for n, s, f, last, a in platforms],
            "accounts": [a.to_dict() for a in accounts]}, indent=2))
        return EXIT_OK
    for n, s, f, last, a in platforms:
        print(f"{n:12s} {a:7d} accounts {s:9d} sightings  {_iso(f)} .. {_iso(last)}")
    for a in accounts:
        print(f"  {a.platform:12s} @{a.handle:30s} {a.sightings:7d}  {_iso(a.first_at)} .. "
              f"{_iso(a.last_at)}")
    return EXIT_OK


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


# ------------------------------------------------------------------------------ simulate


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from memetrack.simulate import SimulationConfig, simulate

    config = SimulationConfig(accounts=args.accounts, days=args.days, campaigns=args.campaigns,
                              seed=args.seed, templates=args.template_count,
                              templates_dir=Path(args.templates) if args.templates else None,
                              images=not args.no_images, bursts=args.bursts)
    summary = simulate(Path(args.out), config)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(f"wrote {summary.sightings} sightings of {summary.images} images "
              f"({summary.templates} templates) by {summary.accounts} accounts, "
              f"{summary.campaign_accounts} of them in {summary.campaigns} planted campaigns")
        print(f"manifest: {summary.manifest}\ntruth:    {summary.truth}")
    return EXIT_OK


# ------------------------------------------------------------------------------ bench


def cmd_bench_spread(args: argparse.Namespace, settings: Settings) -> int:
    from memetrack.coordination import CoordinationParams, find_coordination
    from memetrack.simulate import BenchShape, bench_columns
    from memetrack.spread import SpreadFilter, Target
    from memetrack.store import Store
    from memetrack.store.coposts import mark_stale
    from memetrack.store.spread import load_synthetic, spread_report

    shape = BenchShape(sightings=args.sightings, accounts=args.accounts, seed=args.seed)
    url = args.bench_database_url or settings.resolved_database_url
    schema = None
    admin = None
    if url.startswith("postgresql"):
        import sqlalchemy

        schema = f"mt_bench_{uuid.uuid4().hex[:10]}"
        admin = sqlalchemy.create_engine(url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    elif not args.bench_database_url:
        url = f"sqlite:///{(settings.data_dir / f'bench_{uuid.uuid4().hex[:8]}.db').resolve()}"
    print(f"data shape: {shape.describe()}", flush=True)
    store = Store(url)
    try:
        store.upgrade()
        started = time.monotonic()
        columns = bench_columns(shape)
        pairs_seconds = load_synthetic(store, shape, columns)
        print(f"loaded in {time.monotonic() - started:.1f} s ({store.dialect}), of which "
              f"{pairs_seconds:.1f} s computing every stored co-posting pair", flush=True)
        timings: dict[str, list[float]] = {}
        # the most popular family (the largest report) and a mid-popularity one
        for label, family in (("family_report_largest", 1), ("family_report_rank50", 50)):
            for _ in range(args.repeat):
                t0 = time.monotonic()
                report = spread_report(store, Target("family", family))
                timings.setdefault(label, []).append(time.monotonic() - t0)
            print(f"{label}: family {family} has {report.totals.sightings} sightings, "
                  f"{report.totals.accounts} accounts", flush=True)
        result = None
        end = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=shape.days)
        last_week = SpreadFilter(since=end - timedelta(days=7))
        runs = (("coordination_family", CoordinationParams()),
                ("coordination_media", CoordinationParams(level="media")),
                ("coordination_family_last_7_days", CoordinationParams(filters=last_week)))
        runs += (("coordination_family_after_new_sightings_in_largest_family",
                  CoordinationParams()),)
        for label, params in runs:
            for _ in range(args.repeat):
                if "after_new_sightings" in label:
                    # as when sightings of the largest family were added since the last query:
                    # its stored co-posting pairs are recomputed first
                    with store.session() as session:
                        mark_stale(session, [("family", 1)])
                t0 = time.monotonic()
                found_now = find_coordination(store, params)
                timings.setdefault(label, []).append(time.monotonic() - t0)
            if label == "coordination_family":
                result = found_now
        assert result is not None
        puppets = set(range(shape.accounts - shape.campaigns * shape.puppets + 1,
                            shape.accounts + 1))
        found = result.grouped_accounts()
        out = {
            "shape": shape.describe(), "dialect": store.dialect, "repeat": args.repeat,
            "median_seconds": {k: round(statistics.median(v), 4) for k, v in timings.items()},
            "all_seconds": {k: [round(x, 4) for x in v] for k, v in timings.items()},
            "coordination": {"groups": len(result.groups), "edges": len(result.edges),
                             "grouped_accounts": len(found),
                             "planted_accounts_found": len(found & puppets),
                             "planted_accounts": len(puppets)},
        }
        print(json.dumps(out, indent=2))
    finally:
        store.close()
        if admin is not None:
            if args.keep:
                print(f"kept schema {schema}")
            else:
                with admin.begin() as conn:
                    conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            admin.dispose()
        elif not args.bench_database_url and not args.keep:
            Path(url.split("///", 1)[1]).unlink(missing_ok=True)
    return EXIT_OK


# ------------------------------------------------------------------------------ parser


def _add_filters(p: argparse.ArgumentParser, account: bool = True) -> None:
    p.add_argument("--platform", help="only this platform")
    p.add_argument("--since", help="only sightings at or after this ISO-8601 time (with zone)")
    p.add_argument("--until", help="only sightings before this ISO-8601 time (with zone)")
    if account:
        p.add_argument("--account", help="only this account handle")


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add this module's subcommands to the ``memetrack`` parser."""
    from memetrack.coordination import (
        DEFAULT_LEVEL,
        DEFAULT_MIN_GROUP_SIZE,
        DEFAULT_MIN_OVERLAP,
        DEFAULT_MIN_REPETITIONS,
        DEFAULT_WINDOW_SECONDS,
        LEVELS,
    )
    from memetrack.spread import BUCKETS, TARGET_KINDS, TOP_ACCOUNTS

    p = sub.add_parser("report", help="spread report of a family, variant, cut-out or media")
    p.add_argument("kind", choices=TARGET_KINDS)
    p.add_argument("id", type=int)
    _add_filters(p)
    p.add_argument("--bucket", choices=sorted(BUCKETS),
                   help="timeline bucket (default: hourly up to 3 days of span, else daily)")
    p.add_argument("--top", type=_positive, default=TOP_ACCOUNTS,
                   help=f"accounts listed as top posters and first posters ({TOP_ACCOUNTS})")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="the whole report as JSON")
    fmt.add_argument("--csv", action="store_true", help="the whole report as one long CSV")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("coordination",
                       help="groups of accounts repeatedly posting the same item within seconds")
    p.add_argument("--window", default=None,
                   help=f"co-posting window in seconds, or 'auto' to estimate it from the data "
                        f"(default {DEFAULT_WINDOW_SECONDS:.0f})")
    p.add_argument("--min-repetitions", type=_positive, default=DEFAULT_MIN_REPETITIONS,
                   help=f"co-posts each side of a pair needs (default {DEFAULT_MIN_REPETITIONS})")
    p.add_argument("--level", choices=LEVELS, default=DEFAULT_LEVEL,
                   help=f"what counts as the same item (default {DEFAULT_LEVEL})")
    p.add_argument("--min-overlap", type=float, default=DEFAULT_MIN_OVERLAP,
                   help="strictness: share of neighbours two linked accounts must have in common "
                        f"to stay in one group (0 = connected components; default "
                        f"{DEFAULT_MIN_OVERLAP})")
    p.add_argument("--min-group-size", type=int, default=DEFAULT_MIN_GROUP_SIZE,
                   help=f"smallest group reported (default {DEFAULT_MIN_GROUP_SIZE}; 2 reports "
                        "lone pairs too)")
    _add_filters(p, account=False)
    p.add_argument("--json", action="store_true", help="groups, evidence and network as JSON")
    p.add_argument("--graphml", metavar="FILE", help="write the co-posting network as GraphML")
    p.add_argument("--gexf", metavar="FILE", help="write the co-posting network as GEXF (Gephi)")
    p.add_argument("--edges-csv", metavar="FILE", help="write the edge list as CSV")
    p.add_argument("--nodes-csv", metavar="FILE", help="write the node list as CSV")
    p.add_argument("--truth", metavar="FILE",
                   help="a simulator truth.json: also print precision/recall of the accounts")
    p.set_defaults(handler=cmd_coordination)

    p = sub.add_parser("accounts", help="accounts and platforms with first/last seen and counts")
    p.add_argument("--platform", help="only this platform")
    p.add_argument("--limit", type=_positive, default=50, help="most accounts listed (50)")
    p.add_argument("--order", choices=("sightings", "first_seen"), default="sightings")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_accounts)

    p = sub.add_parser("simulate",
                       help="write a simulated sighting log with planted coordinated campaigns")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--accounts", type=_positive, default=300, help="organic accounts (300)")
    p.add_argument("--days", type=_positive, default=21, help="days of activity (21)")
    p.add_argument("--campaigns", type=int, default=3, help="planted campaigns (3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--templates", help="folder of template images to use instead of drawn ones")
    p.add_argument("--bursts", type=_positive,
                   help="bursts per campaign (default: 14-22, drawn per campaign)")
    p.add_argument("--template-count", type=_positive,
                   help="number of templates (default: accounts/25, 30..200)")
    p.add_argument("--no-images", action="store_true",
                   help="write no images; manifest rows name an image id instead of a path")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_simulate)

    if "bench" in sub.choices:  # shared with the other modules' benchmarks
        bench = sub.choices["bench"]
        bsub = next(a for a in bench._actions if isinstance(a, argparse._SubParsersAction))
    else:
        bench = sub.add_parser("bench", help="measure speed (never part of the tests)")
        bsub = bench.add_subparsers(dest="bench_command", required=True)
    b = bsub.add_parser("spread", help="median latency of a family spread report and of the "
                                       "coordination query on a synthetic store (bulk-loaded)")
    b.add_argument("--sightings", type=_positive, default=1_000_000)
    b.add_argument("--accounts", type=_positive, default=50_000)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--repeat", type=_positive, default=5, help="runs per query (5)")
    b.add_argument("--database-url", dest="bench_database_url",
                   help="store to fill (PostgreSQL: a fresh schema, dropped afterwards); "
                        "default: a new SQLite file in the data folder")
    b.add_argument("--keep", action="store_true", help="keep the filled schema/file")
    b.set_defaults(handler=cmd_bench_spread)


__all__ = ["register", "BadInput"]
