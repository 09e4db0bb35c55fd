"""Small real tables for the disclosure tests, written the way pandas and Jupyter write them."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
from nbformat.v4 import new_code_cell, new_notebook, new_output

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "claims-analysis"


def counts_frame() -> pd.DataFrame:
    """Counts per group and sex, with a mean that is no count."""
    frame = pd.DataFrame(
        {"female": [3, 25, 0], "male": [14, 31, 12], "mean_cost": [1.5, 7.0, 2.25]},
        index=pd.Index(["a", "b", "c"], name="group"),
    )
    return frame


def csv_bytes(frame: pd.DataFrame, **options) -> bytes:
    return frame.to_csv(**options).encode("utf-8")


def notebook_bytes(*frames: pd.DataFrame, extra_outputs: list | None = None) -> bytes:
    """A notebook whose cell N (1-based) shows frame N as an execute_result (HTML and text repr)."""
    notebook = new_notebook()
    notebook.cells.append(new_code_cell("import pandas as pd"))
    for number, frame in enumerate(frames, start=2):
        output = new_output(
            "execute_result",
            data={"text/html": frame.to_html(), "text/plain": repr(frame)},
            execution_count=number,
        )
        notebook.cells.append(new_code_cell("frame", outputs=[output], execution_count=number))
    if extra_outputs:
        notebook.cells.append(new_code_cell("more", outputs=extra_outputs))
    return nbformat.writes(notebook).encode("utf-8")


def example_counts() -> pd.DataFrame:
    """The claims example's crosstab, computed as its notebook computes it (before masking)."""
    claims = pd.read_csv(EXAMPLE / "data" / "claims.csv")
    register = pd.read_csv(EXAMPLE / "data" / "restricted" / "patient_register.csv")
    enrolled = claims.merge(register, on="patient_id", how="inner", validate="many_to_one")
    groups = {
        "C": "Neoplasms",
        "E": "Endocrine and metabolic",
        "F": "Mental and behavioural",
        "G": "Nervous system",
        "I": "Circulatory system",
        "J": "Respiratory system",
        "K": "Digestive system",
        "M": "Musculoskeletal",
        "N": "Genitourinary",
    }
    enrolled["disease_group"] = enrolled["icd10_code"].str[0].map(groups)
    bands = ["0-17", "18-34", "35-49", "50-64", "65-79", "80+"]
    counts = pd.crosstab(enrolled["age_band"], enrolled["disease_group"]).reindex(
        index=bands, columns=list(groups.values()), fill_value=0
    )
    counts.index.name = "age_band"
    counts.columns.name = None
    return counts
