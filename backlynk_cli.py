"""`backlynk` — the command line: serve, worker, projector, migrate and admin tasks.

Every command exits non-zero with a one-line reason on bad input."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from adapters import settings as settings_module
from adapters.db import ensure_database, migrate
from projections.base import all_ddl
from projections.registry import all_projections


class CommandError(Exception):
    """A one-line reason shown to the user; exit status 2."""


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)


def migrate_ddl() -> list[str]:
    from adapters import directories

    return [*directories.DDL, *all_ddl(all_projections())]


async def _migrate() -> None:
    s = settings_module.load()
    await ensure_database(s.database_url)
    import asyncpg

    conn = await asyncpg.connect(s.database_url)
    try:
        await migrate(conn, migrate_ddl())
    finally:
        await conn.close()
    print("migrated", file=sys.stderr)


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from api.app import create_app

    s = settings_module.load(**({"dev": True} if args.dev else {}))
    s.signing_secret  # noqa: B018 - refuse to start without a JWT secret outside dev
    app = create_app(s)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port or s.port,
        access_log=False,
        log_level="info",
        proxy_headers=True,
    )


def cmd_worker(args: argparse.Namespace) -> None:
    from arq.worker import run_worker

    from workers.settings import WorkerSettings

    run_worker(WorkerSettings)  # type: ignore[arg-type]


async def _projector() -> None:
    from adapters.infrastructure import open_infrastructure
    from projections.runner import ProjectorRunner

    s = settings_module.load()
    infra = await open_infrastructure(s, pool_size=4)
    try:
        await ProjectorRunner(s.database_url, infra.store, all_projections(s)).run_forever()
    finally:
        await infra.close()


async def _rebuild(name: str | None) -> None:
    import asyncpg

    from adapters.infrastructure import open_infrastructure
    from projections.runner import rebuild

    chosen = [p for p in all_projections() if name in (None, p.name)]
    if name and not chosen:
        known = ", ".join(p.name for p in all_projections()) or "none"
        raise CommandError(f"unknown projection {name!r} (known: {known})")
    s = settings_module.load()
    infra = await open_infrastructure(s, pool_size=2)
    conn = await asyncpg.connect(s.database_url)
    try:
        for projection in chosen:
            n = await rebuild(conn, infra.store, projection)
            print(f"rebuilt {projection.name}: {n} events replayed", file=sys.stderr)
    finally:
        await conn.close()
        await infra.close()


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


def _run(
    coro_fn: Callable[..., Coroutine[Any, Any, Any]], *a: Any
) -> Callable[[argparse.Namespace], None]:
    return lambda _args: asyncio.run(coro_fn(*a))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backlynk", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0)
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
    rb = proj_sub.add_parser("rebuild", help="replay a read model (or all) from position 0")
    rb.add_argument("name", nargs="?")
    rb.set_defaults(func=lambda a: asyncio.run(_rebuild(a.name)))
    return parser


def main(argv: list[str] | None = None) -> int:
    _configure_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except CommandError as exc:
        print(f"backlynk: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
