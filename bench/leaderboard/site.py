"""The static leaderboard site: one self-contained ``index.html`` (inline CSS and JS).

The page needs no server: open ``results/site/index.html`` from disk.  Images are referenced
relatively (``plots/*.png``, copied next to the page), tables are sortable by a small inline
vanilla-JS script (click a column header), and every string that comes from a result file is
HTML-escaped, because submission names are user input.  The page holds no timestamp, so
regenerating it from the same results gives the same bytes.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from bench.leaderboard.collect import Group
from bench.leaderboard.plots import allocation_plot_name, calibration_plot_name, reward_plot_name
from bench.leaderboard.tables import (
    MISSING,
    ColumnKind,
    Interval,
    Table,
    Value,
    format_csv_value,
    format_value,
    group_header,
    group_size,
    group_tables,
    group_title,
    group_warnings,
    transfer_groups,
)

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header,main,footer{max-width:1400px;margin:0 auto;padding:0 1.2rem}
h1{margin:1.2rem 0 .3rem}h2{margin-top:2.2rem;border-bottom:2px solid #ddd;padding-bottom:.2rem}
h3{margin:1.2rem 0 .4rem;font-size:1.02rem}
nav ul{padding-left:1.2rem;columns:2}
dl.sig{display:flex;flex-wrap:wrap;gap:.2rem 1.2rem;font-size:.85rem;margin:.4rem 0}
dl.sig div{display:flex;gap:.3rem}dl.sig dt{color:#666}dl.sig dd{margin:0;font-family:ui-monospace,monospace}
.scroll{overflow-x:auto}
table.lb{border-collapse:collapse;font-size:.8rem;background:#fff}
table.lb th,table.lb td{border:1px solid #ddd;padding:.2rem .4rem;white-space:nowrap}
table.lb th{background:#f4f4f4;vertical-align:bottom}
table.lb th{white-space:normal;min-width:2.2rem;max-width:8rem}
table.lb td .ci{display:block;color:#666;font-size:.74rem}
table.lb td.mark{white-space:normal;min-width:5.5rem}
table.lb td.mark-better{color:#0a6b2d;font-weight:600}table.lb td.mark-worse{color:#a11}
p.size{margin:.3rem 0;font-size:.9rem}
p.warn{margin:.3rem 0;padding:.35rem .6rem;background:#fff4e5;border-left:4px solid #e69500;font-size:.9rem}
table.lb td.num{text-align:right;font-variant-numeric:tabular-nums}
table.lb th button{all:unset;cursor:pointer;font-weight:600}
table.lb th[aria-sort=ascending] button::after{content:" \\25B2"}
table.lb th[aria-sort=descending] button::after{content:" \\25BC"}
table.lb tbody.refs td{font-style:italic;background:#f0f0f0;color:#444}
table.lb tbody.subs tr:hover td{background:#f5f9ff}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee;background:#fff}
.thumbs{display:flex;flex-wrap:wrap;gap:.8rem}.thumbs figure{margin:0}.thumbs img{width:380px}
figcaption{font-size:.8rem;color:#555}
footer{font-size:.8rem;color:#666;margin:2rem auto 1.5rem}
""".strip()

#: sorts ``table.sortable`` by a clicked header: numeric columns by ``data-v``, text
#: columns by text; missing values always last; reference rows (second tbody) stay put.
SORT_JS = """
(function () {
  "use strict";
  function compare(a, b, index, numeric, dir) {
    var x = a.cells[index].getAttribute("data-v");
    var y = b.cells[index].getAttribute("data-v");
    var order;
    if (numeric) {
      if (x === "" || y === "") {
        order = (x === "" ? 1 : 0) - (y === "" ? 1 : 0);
        return order !== 0 ? order : a.getAttribute("data-i") - b.getAttribute("data-i");
      }
      order = dir * (parseFloat(x) - parseFloat(y));
    } else {
      order = dir * (x < y ? -1 : (x > y ? 1 : 0));
    }
    return order !== 0 ? order : a.getAttribute("data-i") - b.getAttribute("data-i");
  }
  function sortBy(table, th) {
    var headers = table.tHead.rows[0].cells;
    var index = Array.prototype.indexOf.call(headers, th);
    var numeric = th.getAttribute("data-kind") !== "text";
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) { return compare(a, b, index, numeric, dir); });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      th.querySelector("button").addEventListener("click", function () { sortBy(table, th); });
    });
  });
  document.body.setAttribute("data-sortable-tables", String(tables.length));
})();
""".strip()


def _e(text: object) -> str:
    """HTML-escape any value (quotes included: values also go into attributes)."""
    return html.escape(str(text), quote=True)


def render_table(table: Table, table_id: str) -> str:
    """A sortable ``<table>``: submissions in the first tbody, reference rows in the second."""
    head = "".join(
        f'<th scope="col" data-kind="{_e(c.kind)}" title="{_e(c.help)}">'
        f'<button type="button">{_e(c.label)}</button></th>' for c in table.columns)
    bodies: dict[bool, list[str]] = {False: [], True: []}
    for i, row in enumerate(table.rows):
        cells = []
        for c in table.columns:
            value = row.values.get(c.key)
            css = "" if c.kind == "text" else ' class="num"'
            data = _e(value if c.kind == "text" and value is not None else format_csv_value(value))
            if c.key.startswith("vs_") and isinstance(value, str):
                verdict = value.split(" ", 1)[0]
                css = f' class="mark mark-{verdict}"' if verdict in ("better", "worse") else ' class="mark"'
            cells.append(f'<td{css} data-v="{data}">{_cell(value, c.kind, row.intervals, c.key)}</td>')
        attr = "data-reference" if row.is_reference else "data-submission"
        bodies[row.is_reference].append(
            f'<tr data-i="{i}" {attr}="{_e(row.name)}">{"".join(cells)}</tr>')
    return (f'<div class="scroll"><table class="lb sortable" id="{_e(table_id)}">'
            f"<thead><tr>{head}</tr></thead>"
            f'<tbody class="subs">{"".join(bodies[False])}</tbody>'
            f'<tbody class="refs">{"".join(bodies[True])}</tbody></table></div>')


def _cell(value: Value, kind: ColumnKind, intervals: Mapping[str, Interval], key: str) -> str:
    """Escaped cell text: the value, then its interval in a muted ``span`` where it has one."""
    text = _e(format_value(value, kind))
    if key not in intervals or value is None or isinstance(value, str):
        return text
    interval = intervals[key]
    if interval is None:
        return f'{text}<span class="ci">[{MISSING}]</span>'
    low, high = interval
    return f'{text}<span class="ci">[{_e(format_value(low, kind))}, {_e(format_value(high, kind))}]</span>'



def _figure(src: str, caption: str) -> str:
    return (f'<figure><img src="plots/{_e(src)}" alt="{_e(caption)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def render_group(group: Group, plot_names: set[str]) -> str:
    """One ``<section>``: header, the two tables, the reward plot and per-submission plots."""
    slug = group.key.slug()
    header = "".join(f"<div><dt>{_e(label)}</dt><dd>{_e(value)}</dd></div>"
                     for label, value in group_header(group))
    parts = [f'<section class="group" id="g-{_e(slug)}">',
             f"<h2>{_e(group_title(group))}</h2>", f'<p class="size">{_e(group_size(group))}</p>']
    parts += [f'<p class="warn" role="note"><strong>Warning.</strong> {_e(w)}</p>'
              for w in group_warnings(group)]
    parts.append(f'<dl class="sig">{header}</dl>')
    for n, table in enumerate(group_tables(group)):
        parts += [f"<h3>{_e(table.title)}</h3>", render_table(table, f"t-{slug}-{n}")]
    reward = reward_plot_name(group)
    if reward in plot_names:
        parts.append(_figure(reward, f"Reward vs budget: {group_title(group)}; one panel per "
                                     f"submission against the {group.baseline} baseline and the oracle"))
    thumbs = []
    for result in group.results:
        for name, what in ((allocation_plot_name(group, result), "allocation by difficulty bin"),
                           (calibration_plot_name(group, result), "calibration")):
            if name in plot_names:
                thumbs.append(_figure(name, f"{result.submission}: {what}"))
    if thumbs:
        parts += ["<h3>Per-submission plots</h3>", f'<div class="thumbs">{"".join(thumbs)}</div>']
    parts.append("</section>")
    return "\n".join(parts)


def render_site(groups: Sequence[Group], plot_files: Mapping[str, object],
                harness_version: str) -> str:
    """The complete ``index.html``."""
    names = set(plot_files)
    toc = "".join(f'<li><a href="#g-{_e(g.key.slug())}">{_e(group_title(g))}</a> '
                  f"({_e(g.key.setting)}, {len(g.results)} submissions)</li>" for g in groups)
    transfer = transfer_groups(groups)
    sections = "\n".join(render_group(g, names) for g in groups if not g.key.is_transfer)
    sections += '\n<section id="transfer"><h2>Transfer: predictors trained on another bank</h2>'
    if not transfer:
        sections += "<p>None yet: no result was scored with <code>bench run --train-bank</code>.</p>"
    sections += "</section>\n" + "\n".join(render_group(g, names) for g in transfer)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hardbench leaderboard</title>
<style>
{CSS}
</style>
</head>
<body>
<header>
<h1>hardbench leaderboard</h1>
<p>Input-adaptive allocation of language-model computation, scored on cached sample banks.
Rows are ranked by the headline metric (APGR online for routing, ABC online = area between the
online and uniform curves for best-of-k); numbers in brackets are 95 % bootstrap intervals over
test queries; "vs baseline" and "vs row above" are paired bootstrap tests of the headline metric
on the same resampled queries (better / worse when the interval of the difference excludes 0).
Click a column header to sort. Rows are comparable only within one section (same bank,
bank sha256, decoders, train bank, split, bootstrap, seed and harness version). Reference rows
(oracle, uniform / random) are shown in grey for scale. Data: <a href="leaderboard.csv">leaderboard.csv</a>.</p>
<nav><ul>{toc}</ul></nav>
</header>
<main>
{sections}
</main>
<footer>Generated by <code>bench leaderboard</code> (hardbench {_e(harness_version)}).
Column definitions: docs/leaderboard.md in the hardbench repository.</footer>
<script>
{SORT_JS}
</script>
</body>
</html>
"""
