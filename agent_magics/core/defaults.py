"""The options' choices and defaults, one source for the Python API, the magics' traitlets and ``%%agent?``."""

from __future__ import annotations

from typing import Literal

ViaChoice = Literal["auto", "client", "rest"]
ApiChoice = Literal["auto", "responses", "chat", "invocations"]
ClientLibrary = Literal["openai", "databricks-openai"]
ClientLibraryChoice = Literal["auto", "openai", "databricks-openai"]

VIA_CHOICES: tuple[ViaChoice, ...] = ("auto", "client", "rest")
API_CHOICES: tuple[ApiChoice, ...] = ("auto", "responses", "chat", "invocations")
CLIENT_LIBRARY_CHOICES: tuple[ClientLibraryChoice, ...] = ("auto", "openai", "databricks-openai")

STREAM = True
RETURN_TRACE = False
VIA: ViaChoice = "auto"
API: ApiChoice = "auto"
CLIENT_LIBRARY: ClientLibraryChoice = "auto"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 300.0  # agents may think for minutes between bytes
MAX_RETRIES = 3
RETRY_MAX_WAIT = 20.0
EVAL_EXPERIMENT = "agent_magics-evaluations"  # where %%agent_eval logs, outside a Databricks notebook

VIA_HELP = (
    "auto (default): plain REST (httpx and our own SSE parser), or the OpenAI-compatible client when "
    "DatabricksOpenAI is in use; client; rest"
)
API_HELP = "auto (default, from the endpoint's task), responses, chat, or invocations (the endpoint's native shape)"
CLIENT_LIBRARY_HELP = (
    "client path library: auto (default) = databricks-openai if already imported, else openai + databricks-sdk auth"
)

# Several TARGETs in one cell (%%agent A B, %agent A,B question): one source for %%agent?.
# TARGETS_HELP is an argparse help string: %% is a literal %.
TARGETS_HELP = (
    "serving endpoint name, apps/<name>, or an http(s):// URL of a Responses-compatible server; several "
    "(space- or comma-separated; in the line form comma-separated: %%agent A,B question) ask each the same "
    "question at the same time and show the answers side by side (default: %%config AgentMagics.default_target "
    "or $AGENT_MAGICS_TARGET)"
)
PER_TARGET_HELP = (
    "--custom-inputs, --api and --via apply to every target, or to one when written TARGET=VALUE "
    "(--api demo-chat-agent=chat, --custom-inputs apps/demo-app='{\"id\": 5}'); repeat the option for more "
    "targets. --continue keeps one conversation per target; --out NAME holds the AgentComparison."
)

# %agent_sql --estimate: requests actually sent to measure time and tokens (the rest are counted, not asked)
ESTIMATE_SAMPLE = 5
