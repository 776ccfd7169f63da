"""Draw answered precision against coverage as the no-answer threshold moves (squad2-open dev), for the
sentence answerer and the bundled reader, from the curves the tuning scripts write:

    python benchmarks/tune_answer.py ...    # writes benchmarks/out/answer_curve.json
    python benchmarks/tune_reader.py ...    # writes benchmarks/out/reader_curve.json
    python benchmarks/plot_curves.py        # writes docs/precision-coverage.png

"Precision" is the share of answered questions whose cited span contains a gold answer; "coverage" the share
of all questions (half of them unanswerable) that get an answer. The dots are the shipped thresholds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qa.config import Config
    from qa.embedding import make_embedder

    table = json.loads((ROOT / "qa" / "data" / "calibration.json").read_text())
    model = make_embedder(Config.from_env().model).model_id  # the curves tune_*.py wrote are for this model
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for name, key, label in (("answer_curve.json", f"{model}|sentence", "sentence"),
                             ("reader_curve.json", f"{model}|reader:bundled", "bundled reader (default)")):
        curve = json.loads((ROOT / "benchmarks" / "out" / name).read_text())
        pts = [(p["coverage"], p["precision"]) for p in curve if p["coverage"] > 0]
        line, = ax.plot([c for c, _ in pts], [p for _, p in pts], label=label)
        t = table[key]["threshold"]
        at = min(curve, key=lambda p: abs(p["threshold"] - t))
        ax.plot([at["coverage"]], [at["precision"]], "o", color=line.get_color())
        ax.annotate(f"threshold {t:.2f}", (at["coverage"], at["precision"]), textcoords="offset points",
                    xytext=(6, -12), fontsize=8, color=line.get_color())
    ax.set_xlabel("coverage (share of questions answered)")
    ax.set_ylabel("precision (answered and right)")
    ax.set_title("squad2-open dev, 2,828 questions (half unanswerable)", fontsize=10)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    out = ROOT / "docs" / "precision-coverage.png"
    fig.tight_layout()
    fig.savefig(out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
