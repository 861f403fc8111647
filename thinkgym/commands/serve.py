"""``thinkgym serve``: serve an env over HTTP and WebSocket (OpenEnv's protocol) for other frameworks.

Every session (a WebSocket ``/ws`` connection, or ``POST /sessions`` over HTTP) gets an env of its
own; OpenEnv clients and ``thinkgym.remote.RemoteEnv`` connect to it. Needs the serve
extra (``pip install 'thinkgym[serve]'``). See docs/serve.md for the routes.

Example::

    thinkgym serve Game24 --port 8000
    thinkgym serve MathWord --env-arg data_files=my_problems.jsonl --max-sessions 16
    thinkgym serve rg:leg_counting --env-arg min_animals=3
    thinkgym serve MyTask --plugin my_task.py --host 0.0.0.0
"""

from __future__ import annotations

import argparse
import ast
from typing import Any

from thinkgym.commands._common import CommandError, env_name, positive_float, positive_int

__all__ = ["add_arguments", "run", "parse_env_arg"]


def parse_env_arg(text: str) -> tuple[str, Any]:
    """argparse type: ``KEY=VALUE``; the value read as a Python literal, else kept as text."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(
            f"--env-arg {text!r} must look like KEY=VALUE, e.g. difficulty=2 or data_files=x.jsonl"
        )
    try:
        parsed: Any = ast.literal_eval(value) if len(value) <= 10_000 else value
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        parsed = value
    return key, parsed


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--port {text!r} must be an integer") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"--port {port} must be in 0..65535 (0: any free port)")
    return port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options to ``parser``."""
    parser.add_argument("env", type=env_name, metavar="ENV", help="env id or short name")
    parser.add_argument(
        "--env-arg",
        action="append",
        type=parse_env_arg,
        default=[],
        metavar="KEY=VALUE",
        help="a keyword argument of the env (repeat for several), e.g. difficulty=2",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (0.0.0.0 serves other machines: there is no authentication)",
    )
    parser.add_argument("--port", type=_port, default=8000, help="port (0: any free port)")
    parser.add_argument(
        "--max-sessions",
        type=positive_int,
        default=64,
        help="most sessions (HTTP and WebSocket) held at once; more get HTTP 429",
    )
    parser.add_argument(
        "--idle-timeout",
        type=positive_float,
        default=600.0,
        help="seconds after which an idle session is closed (checked every max(t/4, 5) s)",
    )
    parser.add_argument(
        "--max-request-bytes",
        type=positive_int,
        default=1 << 20,
        help="largest HTTP body or WebSocket message read; larger ones get HTTP 413 (or close "
        "the WebSocket with code 1009)",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=("critical", "error", "warning", "info", "debug"),
        help="uvicorn's log level",
    )


def run(args: argparse.Namespace) -> int:
    """Build the app and serve it until interrupted."""
    try:
        import uvicorn

        from thinkgym.serve.app import create_app
    except ImportError as exc:
        raise CommandError(
            f"thinkgym serve needs the serve extra: pip install 'thinkgym[serve]' ({exc})"
        ) from None
    if args.max_request_bytes < 1024:
        raise CommandError(f"--max-request-bytes {args.max_request_bytes} must be at least 1024")
    env_kwargs = dict(args.env_arg)
    port = args.port
    if port == 0:  # pick the free port here, so the line below names it
        import socket

        with socket.socket() as sock:
            sock.bind((args.host, 0))
            port = sock.getsockname()[1]
    try:
        app = create_app(
            args.env,
            env_kwargs,
            max_sessions=args.max_sessions,
            idle_timeout_s=args.idle_timeout,
            max_request_bytes=args.max_request_bytes,
        )
    except (TypeError, ValueError) as exc:
        raise CommandError(
            f"cannot make {args.env} with {env_kwargs or 'no arguments'}: {exc}"
        ) from None
    config = uvicorn.Config(
        app,
        host=args.host,
        port=port,
        log_level=args.log_level,
        ws_max_size=args.max_request_bytes,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    print(
        f"thinkgym: serving {args.env} on http://{args.host}:{port} "
        f"(WebSocket /ws, HTTP /sessions; --max-sessions {args.max_sessions})",
        flush=True,
    )
    server.run()
    return 0
