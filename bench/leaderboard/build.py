"""``build_leaderboard``: result files in, tables, plots and the static site out.

Outputs (all deterministic, no timestamps):

- ``<out>/LEADERBOARD.md`` and ``<out>/leaderboard.csv``
- ``<out>/plots/*.png``
- ``<out>/site/index.html`` with copies of the plots (``site/plots/``) and of the CSV, so the
  ``site`` folder can be opened from disk or published as it is.

PNG files in ``<out>/plots`` and ``<out>/site/plots`` that this run did not write are removed
(they belong to results that no longer exist), so a rebuild matches a fresh build exactly.
"""

from __future__ import annotations

from pathlib import Path

from bench import __version__
from bench.fileio import atomic_write_bytes
from bench.leaderboard.collect import collect_results, group_results
from bench.leaderboard.plots import group_plots
from bench.leaderboard.portfolio import build_portfolio_sections
from bench.leaderboard.site import render_site
from bench.leaderboard.tables import render_csv, render_markdown

MARKDOWN_NAME = "LEADERBOARD.md"
CSV_NAME = "leaderboard.csv"
PLOTS_DIR = "plots"
SITE_DIR = "site"


def _remove_stale_pngs(folder: Path, keep: set[str]) -> None:
    if folder.is_dir():
        for path in sorted(folder.glob("*.png")):
            if path.name not in keep:
                path.unlink()


def build_leaderboard(results_dir: Path, out_dir: Path) -> list[Path]:
    """Read every ``*.json`` result under ``results_dir`` and write the leaderboard to ``out_dir``.

    Parameters
    ----------
    results_dir:
        Folder searched recursively for ``hardbench-result/1`` files.
    out_dir:
        Where ``LEADERBOARD.md``, ``leaderboard.csv``, ``plots/`` and ``site/`` are written
        (``results/`` by default on the command line; it may equal ``results_dir``).

    Returns
    -------
    list[Path]
        Every file written, sorted.

    Raises
    ------
    ResultFormatError
        No result file, a malformed or unknown-version file, or results that claim to be
        comparable but disagree (see :func:`bench.leaderboard.collect.group_results`).
    """
    results_dir, out_dir = Path(results_dir), Path(out_dir)
    groups = group_results(collect_results(results_dir))
    plots_dir = out_dir / PLOTS_DIR
    site_dir = out_dir / SITE_DIR
    written: list[Path] = []

    plot_files: dict[str, Path] = {}
    for group in groups:
        plot_files.update(group_plots(group, plots_dir))
    _remove_stale_pngs(plots_dir, set(plot_files))
    _remove_stale_pngs(site_dir / PLOTS_DIR, set(plot_files))
    for name, path in sorted(plot_files.items()):
        copy = site_dir / PLOTS_DIR / name
        atomic_write_bytes(copy, path.read_bytes())
        written += [path, copy]

    csv_bytes = render_csv(groups).encode("utf-8")
    outputs = {
        out_dir / MARKDOWN_NAME: render_markdown(groups, __version__).encode("utf-8"),
        out_dir / CSV_NAME: csv_bytes,
        site_dir / CSV_NAME: csv_bytes,
        site_dir / "index.html": render_site(groups, plot_files, __version__).encode("utf-8"),
    }
    for path, data in outputs.items():
        atomic_write_bytes(path, data)
        written.append(path)
    written += build_portfolio_sections(results_dir, out_dir)  # portfolio hook (bench/leaderboard/portfolio.py)
    return sorted(written)
