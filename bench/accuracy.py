"""Accuracy of every analytics model over its annotated scenes (issue 6 "Accuracy").

Each `tests/scenes/<model>/evaluate.py` that exists exposes `evaluate() -> dict[str, float]` with
at least precision, recall, ms_per_frame (640×480 frames, this machine's CPU) and scenes; this
bench discovers them, runs each and prints ONE JSON line {"<model>": {...}, ...}. A model whose
evaluation fails is listed with its error instead of stopping the others. `--only fallen,…`
limits the run. Needs the real footage (Debian opencv-doc); runs from `make bench`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCENES = ROOT / "tests" / "scenes"


def discover() -> list[str]:
    """Models that have an evaluate.py among the scenes."""
    return sorted(p.parent.name for p in SCENES.glob("*/evaluate.py"))


def run(model: str) -> dict[str, Any]:
    """One model's figures, or its error."""
    started = time.perf_counter()
    try:
        module = importlib.import_module(f"tests.scenes.{model}.evaluate")
        figures: dict[str, Any] = {k: round(float(v), 4) for k, v in module.evaluate().items()}
    except Exception as exc:  # one broken evaluation must not hide the others' figures
        return {"error": f"{type(exc).__name__}: {exc}"}
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="Comma-separated model keys (default: every model with scenes).")
    args = parser.parse_args()
    models = [m for m in args.only.split(",") if m] or discover()
    print(json.dumps({model: run(model) for model in models}, sort_keys=True))


if __name__ == "__main__":
    main()
