"""The viewer's page: its script and style (``static/``), inlined, with a configuration block and, in
report.html, the embedded data. The server and report.html use this one page; only ``mode`` differs."""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any

VIEWER_ELEMENT = '<div id="viewer"><p class="note">Loading the viewer…</p></div>'


def _static(name: str) -> str:
    return resources.files("dask_runner.viewer").joinpath("static", name).read_text(encoding="utf-8")


def json_script(element_id: str, value: Any) -> str:
    """``value`` as a JSON data block (not executed); ``</`` is escaped so no string can close the element."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def static_size() -> int:
    """Bytes of the script and style every page carries."""
    return len(_static("viewer.js").encode()) + len(_static("viewer.css").encode())


def viewer_fragment(config: dict[str, Any], data: dict[str, Any] | None = None) -> str:
    """The viewer as an HTML fragment: its element, style, configuration, data (file mode) and script."""
    parts = [f"<style>{_static('viewer.css')}</style>", VIEWER_ELEMENT, json_script("viewer-config", config)]
    if data is not None:
        parts.append(json_script("viewer-data", data))
    # The script's text cannot hold "</script" (it does not): it is inlined as it is.
    parts.append(f'<script type="text/javascript">\n{_static("viewer.js")}\n</script>')
    return "\n".join(parts)


def viewer_page(title: str, config: dict[str, Any], data: dict[str, Any] | None = None) -> str:
    """A whole page holding only the viewer (what ``dask-runner view`` serves)."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            '<link rel="icon" href="data:,">'  # no icon to ask the server for
            f"</head><body>\n{viewer_fragment(config, data)}\n</body></html>\n")
