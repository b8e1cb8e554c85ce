"""Leaderboards: result files -> Markdown/CSV tables, matplotlib plots and a static site.

- :mod:`bench.leaderboard.collect`  read and validate ``hardbench-result/1`` files, group them
- :mod:`bench.leaderboard.tables`   allocation and predictor tables (Markdown, CSV)
- :mod:`bench.leaderboard.plots`    reward-vs-budget, calibration and allocation-by-bin PNGs
- :mod:`bench.leaderboard.site`     the self-contained ``index.html``
- :mod:`bench.leaderboard.build`    :func:`build_leaderboard`, tying them together
"""

from bench.leaderboard.build import build_leaderboard

__all__ = ["build_leaderboard"]
