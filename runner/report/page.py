"""The HTML shell shared by the run report and the comparison page.

One file that opens from disk with no network: plotly.js is read from the `plotly`
wheel's `package_data/plotly.min.js` (never importing the plotly Python package,
whose import is slow) and inlined; the figures and tables travel as one JSON
document in a `<script type="application/json">` element, drawn by a short script
with `Plotly.newPlot` (the charts are plotly's; the script only places them and
pages and sorts the tables; `assets/report.js`, with the style sheet
`assets/report.css`). When every chart is drawn, `<body>` gets
`data-ready="1"` (tests and the benchmark wait for it).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

from runner.errors import UsageError


def _asset(name: str) -> str:
    return (resources.files("runner.report") / "assets" / name).read_text(encoding="utf-8")




@cache
def plotly_js() -> str:
    """plotly.js (minified) from the installed `plotly` wheel."""
    try:
        text = (resources.files("plotly") / "package_data" / "plotly.min.js").read_text(
            encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise UsageError("plotly.js is not installed (the report needs the `plotly` "
                         "package: pip install 'plotly>=5')") from exc
    return text.replace("</script", "<\\/script")  # harmless in JS, safe in HTML


def _json(value: Any) -> str:
    """JSON safe inside a <script> element."""
    text = json.dumps(value, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def figure_div(element_id: str) -> str:
    return f'<div id="{esc(element_id)}" class="figure"></div>'


def page(title: str, subtitle: str, sections: Sequence[str], *,
         figures: Mapping[str, Any], tables: Sequence[Mapping[str, Any]]) -> str:
    """The whole document: `sections` are HTML fragments (figures placed with
    `figure_div`, tables with a `<div id=...>` matching a table spec's `id`)."""
    document = {"figures": dict(figures), "tables": list(tables)}
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        f"<title>{esc(title)}</title><style>{_asset('report.css')}</style>",
        f"<script>{plotly_js()}</script></head><body>",
        f"<header><h1>{esc(title)}</h1><div class=\"sub\">{subtitle}</div></header><main>",
        *sections,
        "</main><script type=\"application/json\" id=\"report-data\">",
        _json(document), "</script><script>", _asset("report.js"),
        "</script></body></html>\n",
    ])


__all__ = ["esc", "figure_div", "page", "plotly_js"]
