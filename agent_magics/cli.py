"""``agent-magics`` command line.

``agent-magics workspace [--port N] [--app-port N]`` serves a local Databricks workspace in the
foreground and prints the ``export`` lines that point databricks-sdk (and so DatabricksOpenAI, the
magics, curl) at it. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from typing import TextIO


def _workspace_banner(
    host: str, apps: dict[str, str], token: str, client_id: str, client_secret: str, log_path: str
) -> str:
    q = shlex.quote
    app_lines = "\n".join(f"#   {name:<12} {url}" for name, url in apps.items())
    body = '{"input": [{"role": "user", "content": "What does Databricks do?"}]}'
    return f"""\
# Local Databricks workspace on {host}  (logs: {log_path})
# Apps:
{app_lines}
#
# OAuth M2M, for serving endpoints and apps (DatabricksOpenAI model="apps/demo-app"):
export DATABRICKS_HOST={q(host)}
export DATABRICKS_CLIENT_ID={q(client_id)}
export DATABRICKS_CLIENT_SECRET={q(client_secret)}
export DATABRICKS_AUTH_TYPE=oauth-m2m
#
# Or a personal access token, for serving endpoints only (apps refuse PATs). Use one block, not
# both: databricks-sdk refuses a token and client credentials together.
#   unset DATABRICKS_CLIENT_ID DATABRICKS_CLIENT_SECRET
#   export DATABRICKS_HOST={q(host)}
#   export DATABRICKS_TOKEN={q(token)}
#   export DATABRICKS_AUTH_TYPE=pat
#
# Try it:
#   curl -s {host}/serving-endpoints/demo-agent/invocations \\
#     -H {q("Authorization: Bearer " + token)} -H 'Content-Type: application/json' \\
#     -d {q(body)}
#
# Press Ctrl-C to stop.
"""


def _run_workspace(args: argparse.Namespace, out: TextIO) -> int:
    from agent_magics.core.extras import missing_extra_message

    missing = missing_extra_message("local", part="agent-magics workspace")
    if missing:
        print(missing, file=sys.stderr)
        return 1
    from agent_magics.local.server import Ready, configure_logging, prepare_environment, run_event_loop, serve
    from agent_magics.transport.embedded_config import ServerConfig

    config = ServerConfig(
        port=args.port,
        app_port=args.app_port,
        first_token_delay=args.first_token_delay,
        tokens_per_second=args.tokens_per_second,
    )
    # This process becomes the server: same environment as the one LocalWorkspace starts.
    prepare_environment()
    log_dir = tempfile.mkdtemp(prefix="agent-magics-workspace-")
    log_path = os.path.join(log_dir, "server.log")
    log_file = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - open for the server's life
    configure_logging(log_file)

    def announce(ready: Ready) -> None:
        out.write(
            _workspace_banner(ready.host, ready.apps, config.token, config.client_id, config.client_secret, log_path)
        )
        out.flush()

    try:
        run_event_loop(serve(config, announce))
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        pass
    except OSError as exc:  # e.g. the port is taken
        print(f"agent-magics workspace: {exc}", file=sys.stderr)
        return 1
    finally:
        log_file.close()
    out.write("# Local workspace stopped.\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agent-magics", description="agent_magics command line tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    workspace = commands.add_parser(
        "workspace",
        help="serve a local Databricks workspace (demo agents, apps, OAuth) on 127.0.0.1",
        description="Serve a local Databricks workspace on 127.0.0.1 in the foreground.",
    )
    workspace.add_argument("--port", type=int, default=0, help="workspace port (default: a free port)")
    workspace.add_argument(
        "--app-port",
        type=int,
        default=0,
        help="first app port; apps take consecutive ports from it (default: free ports)",
    )
    workspace.add_argument("--first-token-delay", type=float, default=0.05, help="seconds before the first word")
    workspace.add_argument("--tokens-per-second", type=float, default=80.0, help="streaming pace of the demo agents")
    args = parser.parse_args(argv)
    if args.command == "workspace":
        code = _run_workspace(args, sys.stdout)
        # This process was the server: nothing is left to flush, and tearing down MLflow's module
        # graph at interpreter exit would keep Ctrl-C waiting another second or two.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
