"""The report's plots: small functions from numbers to a matplotlib Figure (no pyplot state)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rewardkit.eval.report import new_figure

__all__ = ["lines", "bars", "confusion_matrix", "reliability", "histograms", "scatter"]


def lines(x: Sequence[float], series: Mapping[str, Sequence[float | None]], xlabel: str, ylabel: str,
          title: str, xticks: Sequence[float] | None = None) -> Any:
    fig = new_figure()
    ax = fig.add_subplot()
    drawn = 0
    for name, ys in series.items():
        pts = [(a, b) for a, b in zip(x, ys, strict=True) if b is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
            drawn += 1
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if xticks is not None:
        ax.set_xticks(list(xticks))
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "undefined on this data", ha="center", va="center", transform=ax.transAxes)
    return fig


def bars(labels: Sequence[str], series: Mapping[str, Sequence[float | None]], ylabel: str, title: str) -> Any:
    fig = new_figure(max(6.4, 0.6 * len(labels) * max(1, len(series))), 3.8)
    ax = fig.add_subplot()
    k = max(1, len(series))
    w = 0.8 / k
    for j, (name, ys) in enumerate(series.items()):
        xs = [i + (j - (k - 1) / 2) * w for i in range(len(labels))]
        ax.bar(xs, [0.0 if y is None else y for y in ys], width=w, label=name)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8)
    return fig


def confusion_matrix(tp: int, fp: int, fn: int, tn: int, title: str) -> Any:
    fig = new_figure(4.2, 3.6)
    ax = fig.add_subplot()
    m = [[tp, fn], [fp, tn]]
    ax.imshow(m, cmap="Blues")
    top = max(max(r) for r in m) or 1
    for i in range(2):
        for j in range(2):
            ax.text(j, i, str(m[i][j]), ha="center", va="center", fontsize=14,
                    color="white" if m[i][j] > 0.6 * top else "black")
    ax.set_xticks([0, 1])
    ax.set_xticklabels(["accepted", "rejected"])
    ax.set_yticks([0, 1])
    ax.set_yticklabels(["expected equal", "expected different"])
    ax.set_title(title)
    return fig


def reliability(bins: Sequence[Mapping[str, Any]], title: str) -> Any:
    fig = new_figure(5.0, 4.2)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
    pts = [(b["mean_prob"], b["frac_pos"], b["count"]) for b in bins if b["count"]]
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label="reward")
        for x, y, n in pts:
            ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean reward (as probability) in bin")
    ax.set_ylabel("fraction of positive outcomes")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def histograms(series: Mapping[str, Sequence[float]], xlabel: str, title: str, bins: int = 30) -> Any:
    fig = new_figure()
    ax = fig.add_subplot()
    drawn = 0
    for name, xs in series.items():
        if len(xs):
            ax.hist(list(xs), bins=bins, alpha=0.55, label=f"{name} (n={len(xs)})")
            drawn += 1
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.set_title(title)
    if drawn:
        ax.legend(fontsize=8)
    return fig


def scatter(x: Sequence[float], y: Sequence[float], xlabel: str, ylabel: str, title: str) -> Any:
    fig = new_figure()
    ax = fig.add_subplot()
    ax.scatter(list(x), list(y), s=8, alpha=0.5)
    ax.axhline(0, color="gray", lw=0.8)
    ax.axvline(0, color="gray", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig
