"""The `tradetalk` command: serve, demo, database and tooling."""

from __future__ import annotations

import asyncio
import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import SecretStr

from tradetalk.config import Settings

app = typer.Typer(
    help="tradetalk: messaging for online marketplaces.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _run_server(settings: Settings, *, shared_port: bool = False) -> None:
    from tradetalk.app import create_app
    from tradetalk.kit.server import tune_garbage_collector, uvicorn_config
    from tradetalk.kit.supervisor import listening_socket
    from tradetalk.observability import configure_logging

    configure_logging(settings.log_level, settings.log_json)
    server = uvicorn.Server(uvicorn_config(create_app(settings), settings))
    tune_garbage_collector()
    if shared_port:  # one of `serve --workers N`'s processes
        server.run(sockets=[listening_socket(settings.host, settings.port)])
    else:
        server.run()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default TRADETALK_PORT or 8000).")] = None,
    workers: Annotated[
        int,
        typer.Option(
            help="Server processes on this port (PostgreSQL and TRADETALK_REDIS_URL needed for "
            "more than one; about one per core).",
        ),
    ] = 1,
    process_of_many: Annotated[bool, typer.Option(hidden=True)] = False,
) -> None:
    """Migrate the database if needed and serve the API, event stream and pages."""
    from tradetalk.kit.supervisor import Supervisor, refusal
    from tradetalk.migrate import upgrade

    settings = Settings()
    overrides: dict[str, object] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    settings = settings.model_copy(update=overrides)
    missing = [
        name
        for name, value in (
            ("TRADETALK_SECRET_KEY", settings.secret_key),
            ("TRADETALK_SERVER_API_KEY", settings.server_api_key),
        )
        if value is None
    ]
    if missing:
        _err(f"Set {' and '.join(missing)} (long random strings) before serving.")
        raise typer.Exit(2)
    if process_of_many:  # started by the supervisor below, which migrated already
        _run_server(settings, shared_port=True)
        return
    if (reason := refusal(settings, workers)) is not None:
        _err(reason)
        raise typer.Exit(2)
    upgrade(settings.database_url)
    processes = f" ({workers} processes)" if workers > 1 else ""
    _err(f"tradetalk listening on http://{settings.host}:{settings.port}{processes}")
    if workers == 1:
        _run_server(settings)
        return
    raise typer.Exit(Supervisor(settings, workers).run())


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (default TRADETALK_PORT or 8000).")] = None,
    database: Annotated[Path, typer.Option(help="SQLite file for the demo.")] = Path("var/demo.db"),
    keep: Annotated[bool, typer.Option(help="Keep an existing demo database.")] = False,
) -> None:
    """Seed a small demo marketplace into a local SQLite file and serve it."""
    from tradetalk import demo as demo_data
    from tradetalk.context import AppContext
    from tradetalk.migrate import upgrade

    fresh = not (keep and database.exists())
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
    base = Settings()
    settings = base.model_copy(
        update={
            "database_url": f"sqlite:///{database}",
            "server_api_key": base.server_api_key or SecretStr(demo_data.SERVER_API_KEY),
            "secret_key": base.secret_key or SecretStr(secrets.token_urlsafe(32)),
            "host": host,
            "port": port or base.port,
            "demo": True,
            "direct_messages": True,
            "log_json": False,
        }
    )
    upgrade(settings.database_url)

    async def prepare() -> dict[str, str]:
        ctx = AppContext.build(settings)
        try:
            if fresh:
                await demo_data.seed(ctx)
            return await demo_data.tokens(ctx)
        finally:
            await ctx.close()

    issued = asyncio.run(prepare())
    url = f"http://{host}:{settings.port}"
    key = settings.server_api_key.get_secret_value() if settings.server_api_key else ""
    lines = [
        "",
        f"tradetalk demo on {url}  (database {database})",
        f"  web inbox:      {url}/  (sign in as any demo user)",
        f"  API reference:  {url}/docs",
        f"  server API key: {key}",
        "  demo users (tokens valid 24 hours):",
    ]
    for user in demo_data.USERS:
        lines.append(f"    {user.id:<12} {user.name:<22} {issued[user.id]}")
    buyer = issued["buyer-dan"]
    lines += [
        "",
        "  try:",
        f"    curl -s -H 'Authorization: Bearer {buyer}' {url}/v1/conversations",
        f"    curl -s -H 'Authorization: Bearer {buyer}' -H 'Content-Type: application/json' \\",
        f'         -d \'{{"body": "Any update on shipping?"}}\' {url}/v1/conversations/1/messages',
        "",
    ]
    _err("\n".join(lines))
    _run_server(settings)


@app.command()
def scan(
    text: Annotated[str | None, typer.Argument(help="A message to scan.")] = None,
    jsonl: Annotated[
        Path | None,
        typer.Option(
            "--jsonl",
            help='A file with one {"id", "text", "history"?} per line ("-" for stdin).',
        ),
    ] = None,
) -> None:
    """Scan text for contact details, with the shield configured from TRADETALK_* settings.

    Prints JSON: one object for TEXT, or one line per input line for --jsonl (progress and
    logs go to stderr). Exits 0 once everything is processed."""
    import json

    from tradetalk.context import build_detector
    from tradetalk.protection.scan_cli import scan_jsonl, scan_text

    if (text is None) == (jsonl is None):
        _err("Give either TEXT or --jsonl FILE.")
        raise typer.Exit(2)
    detector = build_detector(Settings())
    if text is not None:
        typer.echo(json.dumps(scan_text(text, detector), ensure_ascii=False))
        return
    assert jsonl is not None

    def progress(count: int) -> None:
        if count % 10000 == 0:
            _err(f"scanned {count} messages")

    if str(jsonl) == "-":
        total = scan_jsonl(sys.stdin, sys.stdout, detector, progress)
    else:
        if not jsonl.exists():
            _err(f"No such file: {jsonl}")
            raise typer.Exit(2)
        with jsonl.open(encoding="utf-8") as infile:
            total = scan_jsonl(infile, sys.stdout, detector, progress)
    sys.stdout.flush()
    _err(f"scanned {total} messages")


@app.command()
def openapi(
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
) -> None:
    """Print the OpenAPI document of this version (docs/openapi.json is made with it)."""
    import json

    from tradetalk.app import create_app

    settings = Settings(secret_key=SecretStr("openapi-export-only"))
    document = json.dumps(create_app(settings).openapi(), indent=2, sort_keys=True) + "\n"
    if out is None:
        typer.echo(document, nl=False)
    else:
        out.write_text(document, encoding="utf-8")


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Drain what is due now, then exit.")] = False,
) -> None:
    """Deliver the outbox (emails, webhooks, reminders, email replies) until stopped.

    Run as many as needed next to `tradetalk serve` (with TRADETALK_WORKER_EMBEDDED=false
    there, or not): on PostgreSQL they share the work with SKIP LOCKED row locks."""
    import signal

    from tradetalk.context import AppContext
    from tradetalk.migrate import upgrade
    from tradetalk.notifications.worker import Worker
    from tradetalk.observability import configure_logging

    settings = Settings()
    if settings.secret_key is None:
        _err("Set TRADETALK_SECRET_KEY (the same as the server's) before running a worker.")
        raise typer.Exit(2)
    configure_logging(settings.log_level, settings.log_json)
    upgrade(settings.database_url)

    async def run() -> int:
        ctx = AppContext.build(settings)
        await ctx.start()
        outbox_worker = Worker(ctx)
        try:
            if once:
                return await outbox_worker.run_once()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            _err("tradetalk worker running (Ctrl-C to stop)")
            await outbox_worker.run_forever(stop)
            return 0
        finally:
            await outbox_worker.close()
            await ctx.close()

    done = asyncio.run(run())
    if once:
        _err(f"{done} outbox items processed")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "heads",
) -> None:
    """Apply pending migrations to TRADETALK_DATABASE_URL."""
    from tradetalk.migrate import upgrade

    settings = Settings()
    upgrade(settings.database_url, revision)
    _err(f"database at {revision}")


@app.command("verify-transcript")
def verify_transcript(
    file: Annotated[Path, typer.Argument(help="A JSON transcript from GET .../transcript.")],
    seal: Annotated[
        bool,
        typer.Option(
            "--seal/--no-seal",
            help="Also check the server's seal (needs this server's TRADETALK_SECRET_KEY).",
        ),
    ] = True,
) -> None:
    """Check a JSON transcript; exit 0 only when it is intact (1 when changed, 2 unreadable)."""
    import json

    from tradetalk.record import chain

    try:
        document = json.loads(file.read_bytes())
    except (OSError, ValueError) as exc:
        _err(f"cannot read {file} as JSON: {exc}")
        raise typer.Exit(2) from exc
    secret = Settings().secret_key if seal else None
    key = chain.seal_key(secret.get_secret_value().encode()) if secret else None
    result = chain.verify(document, key=key)
    if not result.ok:
        _err(f"TAMPERED {file}: {result.problem}")
        raise typer.Exit(1)
    notes = [f"{result.entry_count} entries intact", f"final hash {result.final_hash}"]
    if result.redacted:
        notes.append(f"{result.redacted} withdrawn texts withheld (their digests verified)")
    notes.append(
        "seal verified"
        if result.seal_checked
        else "seal not checked (set TRADETALK_SECRET_KEY to check it)"
    )
    typer.echo(f"OK {file}: " + "; ".join(notes))


@app.command("verify-record")
def verify_record(
    conversation_id: Annotated[
        int | None, typer.Option("--conversation-id", help="Check only this conversation.")
    ] = None,
) -> None:
    """Check the stored record: every chain intact and every thread as its record says (exit 1
    on any finding)."""
    from tradetalk.context import AppContext
    from tradetalk.db import read_session
    from tradetalk.record import integrity

    settings = Settings()

    async def go() -> tuple[int, list[integrity.Finding]]:
        ctx = AppContext.build(settings)
        checked, findings = 0, []
        try:
            async with read_session(ctx) as session:
                if conversation_id is not None:
                    return 1, await integrity.check_conversation(session, conversation_id)
                async for _, found in integrity.check_all(session):
                    checked += 1
                    findings += found
                    if checked % 1000 == 0:
                        _err(f"checked {checked} conversations")
        finally:
            await ctx.close()
        return checked, findings

    try:
        checked, findings = asyncio.run(go())
    except LookupError as exc:
        _err(str(exc))
        raise typer.Exit(2) from exc
    for finding in findings:
        _err(f"conversation {finding.conversation_id}: {finding.problem}")
    if findings:
        _err(f"{len(findings)} problems in {checked} conversations")
        raise typer.Exit(1)
    typer.echo(f"OK: {checked} conversations, every record intact")


@app.command()
def purge(
    dry_run: Annotated[bool, typer.Option(help="Only list what would be purged.")] = False,
) -> None:
    """Delete conversations past retention (TRADETALK_RETENTION_DAYS), never one a dispute
    still needs; every purged conversation leaves an audit entry with its final hash."""
    import json

    from tradetalk.context import AppContext
    from tradetalk.migrate import upgrade
    from tradetalk.record.retention import purge as run_purge

    settings = Settings()
    upgrade(settings.database_url)

    async def go() -> list[int]:
        ctx = AppContext.build(settings)
        try:
            return (await run_purge(ctx, dry_run=dry_run)).conversation_ids
        finally:
            await ctx.close()

    if settings.retention_days == 0:
        _err("TRADETALK_RETENTION_DAYS is 0: conversations are kept forever")
    ids = asyncio.run(go())
    _err(f"{'would purge' if dry_run else 'purged'} {len(ids)} conversations")
    typer.echo(json.dumps({"dry_run": dry_run, "purged": len(ids), "conversation_ids": ids}))


def main() -> None:
    """Entry point of the console script."""
    from tradetalk.observability import configure_logging

    # Logs go to stderr from the first line on: stdout is for results (scan, purge, openapi).
    configure_logging("INFO", json_logs=False)
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
