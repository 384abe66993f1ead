"""One self-contained HTML report per evaluation run.

Plots are matplotlib figures rendered to PNG and embedded as base64 ``data:`` URIs, the styles are
inline, and nothing is fetched at view time (no scripts, fonts or images from a network), so the
file can be mailed, archived or opened offline. Every text that comes from data is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["Report", "new_figure", "fmt"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;
color:#1d2330;line-height:1.45;padding:0 16px}
h1{font-size:1.6em;margin-bottom:0}h2{font-size:1.2em;border-bottom:1px solid #dde;padding-bottom:4px;margin-top:28px}
.sub{color:#667;margin-top:4px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}
.card{border:1px solid #dde;border-radius:8px;padding:8px 14px;min-width:120px;background:#f8f9fc}
.card .v{font-size:1.5em;font-weight:600}.card .k{color:#556;font-size:.85em}
table{border-collapse:collapse;margin:8px 0;font-size:.9em}
th,td{border:1px solid #dde;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{white-space:pre-wrap;word-break:break-word;max-height:220px;overflow:auto;background:#f6f7f9;
padding:6px;margin:0;font-size:.85em;min-width:260px}
figure{margin:12px 0}figcaption{color:#556;font-size:.9em}
img{max-width:100%;border:1px solid #eee}
.note{color:#556;font-size:.9em}
"""


def fmt(v: Any, digits: int = 4) -> str:
    """A metric for display: floats rounded, ``None`` as an em dash (undefined, not zero)."""
    if v is None:
        return "\u2014"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def new_figure(width: float = 6.4, height: float = 3.6) -> Any:
    """A matplotlib Figure that does not touch pyplot's global state (safe in any thread)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


class Report:
    """Build an HTML report section by section, then `write` it."""

    def __init__(self, title: str, subtitle: str = "") -> None:
        self.title = title
        self.subtitle = subtitle
        self._parts: list[str] = []

    def headline(self, items: Sequence[tuple[str, Any]]) -> None:
        cards = "".join(f'<div class="card"><div class="v">{html.escape(fmt(v))}</div>'
                        f'<div class="k">{html.escape(k)}</div></div>' for k, v in items)
        self._parts.append(f'<div class="cards">{cards}</div>')

    def heading(self, text: str) -> None:
        self._parts.append(f"<h2>{html.escape(text)}</h2>")

    def note(self, text: str) -> None:
        self._parts.append(f'<p class="note">{html.escape(text)}</p>')

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]], caption: str = "",
              pre_columns: Sequence[int] = ()) -> None:
        """A table; cells of ``pre_columns`` are shown as preformatted text (completions)."""
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = []
        for r in rows:
            cells = []
            for j, v in enumerate(r):
                if j in pre_columns:
                    cells.append(f"<td><pre>{html.escape(str(v))}</pre></td>")
                elif isinstance(v, (int, float)) and not isinstance(v, bool) or v is None:
                    cells.append(f'<td class="num">{html.escape(fmt(v))}</td>')
                else:
                    cells.append(f"<td>{html.escape(fmt(v))}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        self._parts.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")

    def figure(self, fig: Any, caption: str = "") -> None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(f'<figure><img alt="{html.escape(caption or "plot")}" '
                           f'src="data:image/png;base64,{data}">{cap}</figure>')

    def json_block(self, title: str, data: Any) -> None:
        self._parts.append(f"<details><summary>{html.escape(title)}</summary><pre>"
                           f"{html.escape(json.dumps(data, indent=2, default=str))}</pre></details>")

    def render(self) -> str:
        sub = f'<p class="sub">{html.escape(self.subtitle)}</p>' if self.subtitle else ""
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>"
                f"<h1>{html.escape(self.title)}</h1>{sub}{''.join(self._parts)}</body></html>\n")

    def write(self, path: str | Path) -> Path:
        from rewardkit.io.output import atomic_write_bytes

        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(p, self.render().encode("utf-8"))
        return p
