"""The trace panel's inline styles and colours, in one place.

The panel must look the same where notebooks end up: JupyterLab's sanitiser for untrusted output,
nbconvert's HTML export, GitHub and Databricks keep inline ``style`` attributes but drop
``<style>`` blocks and scripts. So every style is inline, and only properties JupyterLab's
sanitiser keeps are used. A themed colour is written twice, a plain fallback first, then
``var(--jp-..., fallback)``: where the variable exists (JupyterLab, light or dark theme) it wins,
and a sanitiser or exporter that drops ``var()`` keeps the fallback, a translucent mid-tone that
reads on light and dark backgrounds alike.
"""

from __future__ import annotations

TYPE_COLOURS = {
    "AGENT": "#7c3aed",
    "CHAT_MODEL": "#2563eb",
    "LLM": "#0e7490",
    "TOOL": "#b45309",
    "RETRIEVER": "#047857",
    "RERANKER": "#15803d",
    "EMBEDDING": "#0f766e",
    "PARSER": "#6d28d9",
    "CHAIN": "#4f46e5",
    "MEMORY": "#a16207",
    "GUARDRAIL": "#be123c",
    "EVALUATOR": "#9d174d",
    "TASK": "#475569",
    "WORKFLOW": "#3730a3",
}
UNKNOWN_COLOUR = "#6b7280"
STATUS_COLOURS = {"OK": "#2da44e", "ERROR": "#e5534b", "IN_PROGRESS": "#d4a72c", "UNSET": "#8c959f"}
ERROR_COLOUR = STATUS_COLOURS["ERROR"]


def themed(prop: str, variable: str, fallback: str, pattern: str = "{}") -> str:
    """``prop:fallback;prop:var(variable,fallback)`` (see the module docstring); ``pattern`` puts
    the colour into a longer value, e.g. ``"1px solid {}"`` for a border."""
    themed_colour = f"var({variable},{fallback})"
    return f"{prop}:{pattern.format(fallback)};{prop}:{pattern.format(themed_colour)}"


def type_colour(span_type: str) -> str:
    return TYPE_COLOURS.get(span_type, UNKNOWN_COLOUR)


# Column widths of a span row and of the time axis above the rows: the same, so bars line up.
NAME_WIDTH = "40%"
META_WIDTH = "17%"
TRACK_WIDTH = "41%"
INDENT_PX = 12  # per tree level
MAX_INDENT_LEVELS = 12  # deeper spans are indented no further (their depth is in the tooltip)

ROOT = "font-size:12px;line-height:1.5;margin:.4em 0;padding:4px 6px;border-radius:4px;" + themed(
    "border", "--jp-border-color2", "rgba(127,127,127,0.3)", "1px solid {}"
)
HEADER = "margin:0 0 4px;white-space:normal"
MUTED = "opacity:0.7"
LABEL = "opacity:0.7;font-size:11px;margin-top:3px"
CELL = "display:inline-block;vertical-align:middle"  # inside a nowrap summary row
NAME_CELL = f"{CELL};width:{NAME_WIDTH};overflow:hidden;text-overflow:ellipsis"
META_CELL = f"{CELL};width:{META_WIDTH};text-align:right;padding-right:1%;font-size:11px"
TRACK = f"{CELL};width:{TRACK_WIDTH};height:10px;" + themed(
    "background", "--jp-layout-color2", "rgba(127,127,127,0.12)"
)
BAR = "display:block;height:10px;min-width:2px;"
AXIS = "white-space:nowrap;font-size:10px;opacity:0.75;padding:1px 0;" + themed(
    "border-bottom", "--jp-border-color2", "rgba(127,127,127,0.3)", "1px solid {}"
)
AXIS_TRACK = f"{CELL};width:{TRACK_WIDTH}"
TICK = (
    "display:inline-block;box-sizing:border-box;width:25%;border-left:1px solid rgba(127,127,127,0.5);padding-left:2px"
)
ROW = "margin:0;padding:0"
SUMMARY = "display:block;cursor:pointer;padding:1px 0;white-space:nowrap;overflow:hidden"
MARKER = "display:inline-block;width:12px;opacity:0.6"
BADGE = (
    "display:inline-block;padding:0 3px;margin-right:4px;border-radius:3px;font-size:9px;"
    "line-height:14px;color:#fff;background:"
)
BODY = "margin:2px 0 6px 12px;padding:2px 8px;white-space:normal;" + themed(
    "border-left", "--jp-border-color1", "rgba(127,127,127,0.35)", "2px solid {}"
)
PRE = (
    "margin:2px 0 4px;padding:3px 6px;max-height:240px;overflow:auto;white-space:pre-wrap;"
    "overflow-wrap:break-word;font-size:11px;" + themed("background", "--jp-layout-color2", "rgba(127,127,127,0.08)")
)
MESSAGE = "margin:3px 0;padding:2px 6px;border-left:3px solid "
ROLE = "font-size:10px;font-weight:bold;text-transform:uppercase;opacity:0.75"
TEXT = "white-space:pre-wrap;overflow-wrap:break-word"
ERROR = (
    f"color:{ERROR_COLOUR};border-left:3px solid {ERROR_COLOUR};background:rgba(229,83,75,0.1);"
    "padding:2px 6px;margin:2px 0;white-space:pre-wrap;overflow-wrap:break-word"
)
ERROR_ROW = "background:rgba(229,83,75,0.1)"
NOTE = "margin:4px 0 0;padding:2px 6px;font-size:11px;background:rgba(127,127,127,0.1)"
ROLE_COLOURS = {"user": "#2563eb", "assistant": "#7c3aed", "system": "#6b7280", "tool": "#b45309"}
