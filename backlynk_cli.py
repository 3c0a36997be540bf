"""`backlynk` — the command line: serve, worker, projector, migrate and admin tasks.

Every command exits non-zero with a one-line reason on bad input."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from adapters import metrics, parsing_pool
from adapters import settings as settings_module
from adapters.db import ensure_database, migrate
from adapters.log_format import configure_logging
from projections.base import all_ddl
from projections.registry import all_projections, merged_ddl, merged_left


class CommandError(Exception):
    """A one-line reason shown to the user; exit status 2."""


def _configure_logging() -> None:
    configure_logging()


def migrate_ddl() -> list[str]:
    from adapters import credential_feed, directories, read_model_feed
    from projections import showcase, stalls

    return [
        *read_model_feed.DDL,
        *directories.DDL,
        *all_ddl(all_projections()),
        *stalls.DDL,
        *merged_ddl(),
        *credential_feed.DDL,
        *showcase.DDL,
    ]


async def _migrate() -> None:
    s = settings_module.load()
    await ensure_database(s.database_url)
    import asyncpg

    conn = await asyncpg.connect(s.database_url)
    try:
        merged = await merged_left(conn)
        await migrate(conn, migrate_ddl())
    finally:
        await conn.close()
    print("migrated", file=sys.stderr)
    for old, into in merged.items():
        print(
            f"projection {old} is now part of {into}, whose tables were at two positions: "
            f"run `backlynk projections rebuild {into}` (until then {into} may miss rows "
            "or stall)",
            file=sys.stderr,
        )


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


#: seconds `backlynk serve` waits for requests in flight when it is told to stop
SHUTDOWN_GRACE_S = 20


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from api.app import create_app

    # --host/--port stand in for HOST/PORT, so that they are checked the same way
    given = {k: v for k, v in (("HOST", args.host), ("PORT", args.port)) if v}
    env = {**os.environ, **given}
    s = settings_module.load(env, **({"dev": True} if args.dev else {}))
    s.signing_secret  # noqa: B018 - refuse to start without a usable JWT secret outside dev
    metrics.prepare_directory()  # once, before any web process writes there
    options: dict[str, Any] = dict(
        host=s.host,
        port=s.port,
        access_log=False,
        log_level="info",
        proxy_headers=True,
        # an open job stream never ends by itself: a stopping server waits this long for
        # the requests in flight, then cancels what is left (stream clients reconnect)
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    if s.web_concurrency > 1:
        if s.dev:
            raise CommandError("WEB_CONCURRENCY > 1 needs the projector as its own process")
        # each web process builds its app (api.serving) and warms its own parsing pool, and
        # listens on a socket of its own (not uvicorn's --workers: see api.serving)
        from api.serving import run_processes

        os.environ.update(given)
        run_processes("api.serving:app", s.web_concurrency, {**options, "factory": True})
        return
    app = create_app(s, freeze_start_up=True)
    # uvicorn re-raises the SIGTERM it handled once it has shut down; as an exception
    # (not the default handler's instant death) it lets the parsing processes stop too
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parsing_pool.warm()
    try:
        uvicorn.run(app, **options)
    finally:
        parsing_pool.shutdown()  # its processes would outlive the server


def cmd_worker(args: argparse.Namespace) -> None:
    from arq.worker import run_worker

    from workers.settings import WorkerSettings, worker_options

    s = settings_module.load()
    metrics.prepare_directory()
    parsing_pool.warm()
    try:
        run_worker(WorkerSettings, **worker_options(s))  # type: ignore[arg-type]
    finally:
        parsing_pool.shutdown()


async def _projector() -> None:
    from adapters.infrastructure import open_infrastructure
    from adapters.queue import TaskQueue
    from projections.runner import ProjectorRunner

    s = settings_module.load()
    metrics.prepare_directory()
    infra = await open_infrastructure(s, pool_size=4)
    queue = TaskQueue(s)
    try:
        await ProjectorRunner(s.database_url, infra.store, all_projections(queue)).run_forever()
    finally:
        await queue.close()
        await infra.close()


def _projections_named(name: str | None, queue: Any = None) -> list[Any]:
    """The projections called `name` (all when None); `queue` for the dispatcher, when
    they are to apply events (a rebuild) rather than be named."""
    every = all_projections(queue)
    chosen = [p for p in every if name in (None, p.name)]
    if name and not chosen:
        known = ", ".join(p.name for p in every) or "none"
        raise CommandError(f"unknown projection {name!r} (known: {known})")
    return chosen


def _read_models_named(name: str | None, action: str) -> list[Any]:
    """The projections that keep tables (the dispatcher's effect is enqueuing: it has no
    read model to rebuild or compare, and replaying it would enqueue again)."""
    chosen = [p for p in _projections_named(name) if p.tables]
    if name and not chosen:
        raise CommandError(
            f"projection {name!r} keeps no tables: there is nothing to {action}. Its effect "
            "is enqueuing worker jobs, so replaying it from the start would enqueue the work "
            "of the whole history again; it is never replayed. It goes on from its own "
            "position (`backlynk projections status`). Stuck at an event: fix the cause and "
            "restart the projector, or `backlynk projections skip "
            f"{name} POSITION`. Work lost from the queue (Redis lost its data): the cron "
            "`resume_stalled_jobs` (every 5 minutes) queues stalled jobs again, and "
            "`recheck_backlinks` the backlinks due a check."
        )
    return chosen


async def _rebuild(name: str | None) -> None:
    from adapters.infrastructure import open_infrastructure
    from projections import replay

    chosen = _read_models_named(name, "rebuild")
    s = settings_module.load()
    infra = await open_infrastructure(s, pool_size=2)
    try:
        for projection in chosen:
            try:
                done = await replay.rebuild(s.database_url, infra.store, projection)
            except replay.ReplayFailed as stuck:
                raise CommandError(f"{stuck}: {stuck.__cause__}; nothing was swapped") from None
            print(
                f"rebuilt {done.projection}: {done.events} events replayed, swapped in "
                f"at position {done.position}",
                file=sys.stderr,
            )
    finally:
        await infra.close()


async def _verify(name: str | None, limit: int) -> int:
    from adapters.infrastructure import open_infrastructure
    from projections import replay

    chosen = _read_models_named(name, "compare")
    s = settings_module.load()
    infra = await open_infrastructure(s, pool_size=2)
    try:
        verdict = await replay.verify(s.database_url, infra.store, chosen, limit=limit)
    except (replay.ReplayFailed, replay.PositionMovedBack) as exc:
        raise CommandError(f"{exc}: {exc.__cause__}" if exc.__cause__ else str(exc)) from None
    finally:
        await infra.close()
    at = ", ".join(f"{n} at {p}" for n, p in verdict.positions.items())
    if verdict.equal:
        print(f"replay equals the live read models ({at})", file=sys.stderr)
        return 0
    for line in verdict.report():
        print(line)
    print(
        f"replay differs from the live read models: {verdict.total} differences ({at})",
        file=sys.stderr,
    )
    return 1


def cmd_replay(args: argparse.Namespace) -> int:
    if not args.verify:
        raise CommandError(
            "replay needs --verify (to replace a live read model: projections rebuild NAME)"
        )
    if args.limit < 1:
        raise CommandError(f"--limit must be a positive integer, not {args.limit}")
    return asyncio.run(_verify(args.name, args.limit))


async def _export(aggregate: str | None, since: str | None) -> None:
    import asyncpg

    from adapters.event_export import export_lines

    aggregate_id = None
    if aggregate is not None:
        import uuid

        try:
            aggregate_id = uuid.UUID(aggregate)
        except ValueError:
            raise CommandError(f"--aggregate must be a UUID, not {aggregate!r}") from None
    if since is not None and not (since.isascii() and since.isdigit()):
        raise CommandError(f"--since must be a position (an integer >= 0), not {since!r}")
    conn = await asyncpg.connect(settings_module.load().database_url)
    out = sys.stdout.buffer
    try:
        async for line in export_lines(conn, aggregate=aggregate_id, since=int(since or 0)):
            out.write(line)
        out.flush()
    except BrokenPipeError:
        # the reader stopped (`| head`): not an error; keep Python from complaining at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        await conn.close()


def _operator() -> str:
    """Who runs the command, for the audit trail: user@host."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


async def _skip(name: str, position: str, reason: str | None) -> None:
    import asyncpg

    from projections import stalls

    [projection] = _projections_named(name)
    if not position.isascii() or not position.isdigit() or int(position) < 1:
        raise CommandError(
            f"POSITION must be a notification id (a positive integer), not {position!r}"
        )
    conn = await asyncpg.connect(settings_module.load().database_url)
    try:
        done = await stalls.skip(
            conn, projection, int(position), skipped_by=_operator(), reason=reason
        )
    except stalls.SkipRefused as refused:
        raise CommandError(str(refused)) from None
    finally:
        await conn.close()
    print(
        f"skipped notification {done.notification_id} ({done.topic}, {done.originator_id} "
        f"v{done.originator_version}) for projection {done.projection}; it resumes after it",
        file=sys.stderr,
    )


async def _status() -> None:
    import asyncpg

    from projections import stalls

    projections = all_projections()
    conn = await asyncpg.connect(settings_module.load().database_url)
    try:
        at = await stalls.positions(conn, projections)
        stuck = {s.projection: s for s in await stalls.stuck(conn, projections)}
        recent = await stalls.skips(conn)
    finally:
        await conn.close()
    for p in projections:
        line = f"{p.name}: at {at.get(p.name, 0)}"
        if s := stuck.get(p.name):
            line += (
                f", STUCK at {s.notification_id} ({s.topic}, {s.originator_id} "
                f"v{s.originator_version}) since {s.since:%Y-%m-%d %H:%M:%S}Z, "
                f"{s.attempts} attempts: {s.error}"
            )
        print(line)
    for k in recent:
        print(
            f"skipped {k.projection} {k.notification_id} ({k.topic}) by {k.skipped_by} "
            f"at {k.skipped_at:%Y-%m-%d %H:%M:%S}Z: {k.reason or '(no reason given)'}; "
            f"error was {k.error}"
        )


async def _report_directories(as_csv: bool) -> None:
    """Every account's figures per directory, with the directories' names, from the read
    database (`READ_DATABASE_URL`): the one query the API's report and the public quality
    tiers use (`projections.report_directories.directory_stats`)."""
    import csv

    from adapters.db import connect_pool
    from api.reports import DirectoryReportOut, csv_cells, csv_header, with_names
    from projections.report_directories import directory_stats

    pool = await connect_pool(settings_module.load().read_url, max_size=1)
    try:
        async with pool.acquire() as conn:
            stats = await directory_stats(conn)
        rows = await with_names(pool, stats)
    finally:
        await pool.close()
    header = csv_header(DirectoryReportOut)
    cells = [csv_cells(r) for r in rows]
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(cells)
        return
    # the name first: a table is read by people
    order = [header.index("directory_name"), *range(len(header) - 1)]
    table = [[line[i] for i in order] for line in [header, *cells]]
    widths = [max(len(line[i]) for line in table) for i in range(len(order))]
    for line in table:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    if not rows:
        print("(no directory has a task or a backlink yet)", file=sys.stderr)


def _import_directories(path: str) -> None:
    from adapters.directories import upsert
    from domain.directory import parse_catalogue
    from domain.errors import DomainError

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    try:
        entries = parse_catalogue(data)
    except DomainError as exc:
        raise CommandError(f"{path}: {exc.details}") from None

    async def write() -> int:
        import asyncpg

        conn = await asyncpg.connect(settings_module.load().database_url)
        try:
            return await upsert(conn, entries)
        finally:
            await conn.close()

    print(f"imported {asyncio.run(write())} directories from {path}", file=sys.stderr)


async def _with_auth_ports(
    use: Callable[..., Coroutine[Any, Any, None]], command: str, *, with_pool: bool = False
) -> None:
    """Open the infrastructure, wire the account services' ports, run `use`, close.
    What `use` saves records the CLI `command` as its cause. Domain errors (bad email,
    unknown plan, taken email, ...) become one-line reasons."""
    from adapters.causes import caused_by
    from adapters.infrastructure import open_infrastructure
    from adapters.wiring import auth_ports
    from domain.cause import Cause, CauseKind
    from domain.errors import DomainError

    s = settings_module.load()
    infra = await open_infrastructure(s, pool_size=2)
    try:
        with caused_by(Cause(CauseKind.CLI, name=command)):
            await use(auth_ports(infra), *([infra.pool] if with_pool else []))
    except DomainError as exc:
        raise CommandError(exc.details) from None
    finally:
        await infra.close()


def cmd_users_create(args: argparse.Namespace) -> None:
    from domain.services.accounts import create_account

    async def use(ports: Any) -> None:
        changed = await create_account(
            ports, args.email, args.password, name=args.name, plan_code=args.plan
        )
        account = changed.account
        print(f"created {account.email} on the {account.plan_code} plan")

    asyncio.run(_with_auth_ports(use, "users create"))


def cmd_users_set_plan(args: argparse.Namespace) -> None:
    from domain.services.accounts import set_plan

    async def use(ports: Any) -> None:
        changed = await set_plan(ports, args.email, args.plan)
        print(f"{changed.account.email} is on the {changed.account.plan_code} plan")

    asyncio.run(_with_auth_ports(use, "users set-plan"))


def cmd_demo_load(args: argparse.Namespace) -> None:
    from adapters.demo import load_demo

    async def use(ports: Any, pool: Any) -> None:
        for line in await load_demo(ports, pool):
            print(line)

    asyncio.run(_with_auth_ports(use, "demo load", with_pool=True))


async def _with_showcase(use: Callable[..., Coroutine[Any, Any, None]]) -> None:
    """Open the infrastructure, wire the delivery-example services' ports, run `use`.
    Domain errors (unknown id, not verified, duplicate, ...) become one-line reasons."""
    from adapters.directories import PostgresDirectoryCatalogue
    from adapters.infrastructure import open_infrastructure
    from domain.errors import DomainError
    from domain.ports import ShowcasePorts
    from projections.showcase import PostgresExampleChoices

    s = settings_module.load()
    infra = await open_infrastructure(s, pool_size=2)
    try:
        await use(
            ShowcasePorts(
                repository=infra.repository,
                choices=PostgresExampleChoices(infra.pool),
                catalogue=PostgresDirectoryCatalogue(infra.pool),
                clock=infra.clock,
            )
        )
    except DomainError as exc:
        raise CommandError(exc.details) from None
    finally:
        await infra.close()


def _id_of(prefix: str, text: str, what: str) -> Any:
    from domain import ids

    found = ids.decode(prefix, text)
    if found is None:
        raise CommandError(f"{text!r} is not {what} id ({prefix}_ and 32 hex digits)")
    return found


def cmd_examples_add(args: argparse.Namespace) -> None:
    from domain import ids
    from domain.services.showcase import add_example

    backlink_id = _id_of("bl", args.backlink_id, "a backlink")

    async def use(ports: Any) -> None:
        choice = await add_example(ports, backlink_id, args.note, _operator())
        print(f"added {ids.encode('ex', choice.id)} (backlink {args.backlink_id})")

    asyncio.run(_with_showcase(use))


def cmd_examples_list(args: argparse.Namespace) -> None:
    from domain import ids
    from domain.directory import dr_tier
    from domain.services.showcase import chosen_examples
    from domain.showcase import shown

    async def use(ports: Any) -> None:
        facts = await chosen_examples(ports)
        public = {f.choice.id for f in shown(facts)}
        for f in facts:
            c = f.choice
            state = "shown" if c.id in public else f"hidden: the backlink is {f.status}"
            print(
                f"{ids.encode('ex', c.id)}  {ids.encode('bl', c.backlink_id)}  "
                f"DR {dr_tier(f.domain_rating)}  {state}  added by {c.added_by} at "
                f"{c.added_at:%Y-%m-%d %H:%M:%S}Z" + (f"  note: {c.note}" if c.note else "")
            )
        if not facts:
            print(
                "no delivery examples (add one: backlynk examples add BACKLINK_ID)", file=sys.stderr
            )

    asyncio.run(_with_showcase(use))


def cmd_examples_remove(args: argparse.Namespace) -> None:
    from domain.services.showcase import remove_example

    example_id = _id_of("ex", args.example_id, "an example")

    async def use(ports: Any) -> None:
        await remove_example(ports, example_id, _operator())
        print(f"removed {args.example_id}")

    asyncio.run(_with_showcase(use))


def cmd_sandbox(args: argparse.Namespace) -> None:
    from adapters.demo.sandbox import serve

    serve(host=args.host, port=args.port)


def _run(
    coro_fn: Callable[..., Coroutine[Any, Any, Any]], *a: Any
) -> Callable[[argparse.Namespace], None]:
    return lambda _args: asyncio.run(coro_fn(*a))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backlynk", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web API")
    serve.add_argument("--host", default=None, help="bind address (default: $HOST or 0.0.0.0)")
    serve.add_argument("--port", default=None, help="port (default: $PORT or 8000)")
    serve.add_argument(
        "--dev", action="store_true", help="run the projector in-process; allow the dev JWT secret"
    )
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("worker", help="run an arq worker").set_defaults(func=cmd_worker)
    sub.add_parser("projector", help="run every projection").set_defaults(func=_run(_projector))
    sub.add_parser("migrate", help="create the database and tables").set_defaults(
        func=_run(_migrate)
    )

    dirs = sub.add_parser("directories", help="the directory catalogue")
    dirs_sub = dirs.add_subparsers(dest="action", required=True)
    imp = dirs_sub.add_parser("import", help="upsert directories from a JSON file")
    imp.add_argument("file")
    imp.set_defaults(func=lambda a: _import_directories(a.file))

    proj = sub.add_parser("projections", help="read-model maintenance")
    proj_sub = proj.add_subparsers(dest="action", required=True)
    rb = proj_sub.add_parser(
        "rebuild",
        help="replay a read model (or all) from position 0 beside the live one, then swap it in",
    )
    rb.add_argument("name", nargs="?")
    rb.set_defaults(func=lambda a: asyncio.run(_rebuild(a.name)))
    sk = proj_sub.add_parser(
        "skip", help="record a skip of the event a stuck projection stopped at, and resume it"
    )
    sk.add_argument("name")
    sk.add_argument("position", help="the notification id it is stuck at (see /readyz)")
    sk.add_argument("--reason", help="why, for the audit trail (projection_skips)")
    sk.set_defaults(func=lambda a: asyncio.run(_skip(a.name, a.position, a.reason)))
    proj_sub.add_parser(
        "status", help="each projection's position, stuck ones, recent skips"
    ).set_defaults(func=_run(_status))

    rp = sub.add_parser(
        "replay", help="replay read models into a scratch schema and compare with the live ones"
    )
    rp.add_argument("--verify", action="store_true", help="compare; exit 1 on any difference")
    rp.add_argument("name", nargs="?", help="one read model (default: all)")
    rp.add_argument("--limit", type=int, default=50, help="differences shown (default: 50)")
    rp.set_defaults(func=cmd_replay)

    events = sub.add_parser("events", help="the event store")
    events_sub = events.add_subparsers(dest="action", required=True)
    ex = events_sub.add_parser("export", help="every event as a JSON line on stdout")
    which = ex.add_mutually_exclusive_group()
    which.add_argument("--aggregate", metavar="ID", help="only this aggregate's events")
    which.add_argument("--since", metavar="POSITION", help="only events after this position")
    ex.set_defaults(func=lambda a: asyncio.run(_export(a.aggregate, a.since)))

    reports = sub.add_parser("reports", help="reports across every account (operator)")
    reports_sub = reports.add_subparsers(dest="action", required=True)
    rd = reports_sub.add_parser(
        "directories",
        help="per directory, every account: submitted, verified, failed by code, rates, "
        "median time to a verified listing",
    )
    rd.add_argument("--csv", action="store_true", help="CSV instead of a table")
    rd.set_defaults(func=lambda a: asyncio.run(_report_directories(a.csv)))

    users = sub.add_parser("users", help="account administration")
    users_sub = users.add_subparsers(dest="action", required=True)
    create = users_sub.add_parser("create", help="create an account on any plan")
    create.add_argument("--email", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--plan", default="free", help="free, pro or agency (default: free)")
    create.add_argument("--name", default=None)
    create.set_defaults(func=cmd_users_create)
    set_plan = users_sub.add_parser("set-plan", help="move an account to another plan")
    set_plan.add_argument("email")
    set_plan.add_argument("plan", help="free, pro or agency")
    set_plan.set_defaults(func=cmd_users_set_plan)

    examples = sub.add_parser("examples", help="delivery examples on the public pages")
    examples_sub = examples.add_subparsers(dest="action", required=True)
    ex_add = examples_sub.add_parser("add", help="show a verified backlink, anonymised")
    ex_add.add_argument("backlink_id", metavar="BACKLINK_ID", help="bl_…")
    ex_add.add_argument("--note", help="one line shown beside it (naming no directory or customer)")
    ex_add.set_defaults(func=cmd_examples_add)
    examples_sub.add_parser(
        "list", help="the chosen examples, who added them, and whether each is shown"
    ).set_defaults(func=cmd_examples_list)
    ex_remove = examples_sub.add_parser("remove", help="take an example off the public page")
    ex_remove.add_argument("example_id", metavar="ID", help="ex_…")
    ex_remove.set_defaults(func=cmd_examples_remove)

    demo = sub.add_parser("demo", help="the demo sandbox")
    demo_sub = demo.add_subparsers(dest="action", required=True)
    sandbox = sub.add_parser("sandbox", help="serve the demo sandbox directories")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8001)
    sandbox.set_defaults(func=cmd_sandbox)
    demo_sub.add_parser(
        "load", help="create the demo account and sandbox catalogue (idempotent)"
    ).set_defaults(func=cmd_demo_load)
    return parser


def main(argv: list[str] | None = None) -> int:
    _configure_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args)  # None, or an exit status (replay --verify: 1 on a diff)
    except (CommandError, settings_module.SettingsError) as exc:
        print(f"backlynk: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # Postgres or Redis unreachable: say so in one line
        print(f"backlynk: cannot reach a service: {exc}", file=sys.stderr)
        return 1
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
