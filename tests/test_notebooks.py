"""The analyst walkthrough in notebooks/ runs top to bottom offline and shows real figures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from cso_geo import maps

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "analyst_walkthrough.ipynb"


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if "text" in output:
            parts.append(output["text"])
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[nbformat.NotebookNode, Path]:
    folder = tmp_path_factory.mktemp("notebook")
    shutil.copy(NOTEBOOK, folder / NOTEBOOK.name)
    nb = nbformat.read(folder / NOTEBOOK.name, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": folder}}
    ).execute()
    return nb, folder / "walkthrough_out"


def test_walkthrough_runs_without_errors(executed: tuple[nbformat.NotebookNode, Path]) -> None:
    nb, _ = executed
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) >= 10
    for cell in code:
        assert all(o.get("output_type") != "error" for o in cell.get("outputs", [])), cell.source


def test_walkthrough_shows_the_figures_of_its_own_outputs(
    executed: tuple[nbformat.NotebookNode, Path],
) -> None:
    nb, out = executed
    text = "\n".join(_text(c) for c in nb.cells if c.cell_type == "code")
    cad = pd.read_csv(out / "calls.csv", keep_default_na=False)
    # the generated export is the committed sample, and its size is what the notebook prints
    assert (out / "calls.csv").read_bytes() == (
        REPO / "data" / "helsinki_cad_2025.csv"
    ).read_bytes()
    assert f"{len(cad):,} calls" in text
    match = json.loads((out / "calls.report.json").read_text())["match"]
    assert f"hit rate {match['hit_rate']:.1%}" in text
    assert "segment vs naive, PAI at 5% of street length: +" in text
    summaries = json.loads((out / "routes" / "routes.json").read_text())
    assert len(summaries) == 6
    assert all(s["feasible"] for s in summaries)
    for name in ("analyst.html", "community.html"):
        page = (out / name).read_text(encoding="utf-8")
        assert maps.remote_references(page) == []
    report = json.loads((out / "report" / "report-2025-12.json").read_text())
    t = pd.to_datetime(cad["received_at"])
    n_dec = int((t.dt.strftime("%Y-%m") == "2025-12").sum())
    assert report["calls"]["total"] == n_dec
    assert f"December 2025: {n_dec} calls" in text
