"""Write the synthetic data of the claims-analysis example.

Run ``python examples/generate_claims.py``: it rewrites
``claims-analysis/data/claims.csv`` and
``claims-analysis/data/restricted/patient_register.csv`` next to this script.
The output is the same bytes on every run (seeded ``random.Random``, stdlib
only), so the committed CSVs can be regenerated and compared. No row
describes a real person.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

SEED = 20240501
EXAMPLE_DIR = Path(__file__).resolve().parent / "claims-analysis"
N_PATIENTS = 1240
# Patients who claimed but are missing from the register, so the join drops their claims.
N_NOT_ENROLLED = 40
N_CLAIMS = 4000

#: Age band -> share of patients, and relative number of claims per patient.
AGE_BANDS: dict[str, tuple[float, float]] = {
    "0-17": (0.18, 0.6),
    "18-34": (0.20, 0.7),
    "35-49": (0.19, 1.0),
    "50-64": (0.20, 1.4),
    "65-79": (0.15, 2.0),
    "80+": (0.08, 2.4),
}


@dataclass(frozen=True)
class Diagnosis:
    code: str
    prescriptions: tuple[str, ...]  # "" means the claim had no prescription
    base_cost_eur: float
    sex: str | None  # "F" or "M" when the diagnosis occurs in one sex only


DIAGNOSES = {
    d.code: d
    for d in (
        Diagnosis("E11.9", ("metformin", "metformin", "gliclazide"), 85.0, None),
        Diagnosis("E78.5", ("atorvastatin", "simvastatin"), 45.0, None),
        Diagnosis("E03.9", ("levothyroxine",), 40.0, None),
        Diagnosis("I10", ("lisinopril", "amlodipine", "ramipril"), 42.0, None),
        Diagnosis("I25.10", ("clopidogrel", "atorvastatin"), 310.0, None),
        Diagnosis("I48.91", ("apixaban", "bisoprolol"), 260.0, None),
        Diagnosis("J45.909", ("salbutamol", "budesonide"), 55.0, None),
        Diagnosis("J44.9", ("tiotropium", "salbutamol"), 190.0, None),
        Diagnosis("J06.9", ("", "", "paracetamol"), 30.0, None),
        Diagnosis("F32.9", ("sertraline", "citalopram"), 95.0, None),
        Diagnosis("F41.1", ("escitalopram", ""), 90.0, None),
        Diagnosis("F90.0", ("methylphenidate",), 120.0, None),
        Diagnosis("M54.5", ("ibuprofen", "naproxen", ""), 38.0, None),
        Diagnosis("M17.11", ("naproxen", "paracetamol"), 140.0, None),
        Diagnosis("C50.911", ("tamoxifen", "letrozole"), 1850.0, "F"),
        Diagnosis("C61", ("bicalutamide", "leuprorelin"), 1400.0, "M"),
        Diagnosis("C34.90", ("carboplatin", ""), 2600.0, None),
        Diagnosis("N18.3", ("losartan", "furosemide"), 210.0, None),
        Diagnosis("N39.0", ("nitrofurantoin", "trimethoprim"), 48.0, None),
        Diagnosis("K21.9", ("omeprazole", "pantoprazole"), 35.0, None),
        Diagnosis("G43.909", ("sumatriptan", "ibuprofen"), 60.0, None),
    )
}

#: Relative prevalence of each diagnosis among one age band's claims.
PREVALENCE: dict[str, dict[str, float]] = {
    "0-17": {"J45.909": 30, "J06.9": 40, "F90.0": 14, "G43.909": 4, "K21.9": 2, "N39.0": 3, "F32.9": 2, "E03.9": 1},
    "18-34": {
        "J06.9": 20, "F32.9": 14, "F41.1": 13, "J45.909": 10, "M54.5": 12, "G43.909": 9, "N39.0": 7,
        "K21.9": 5, "F90.0": 4, "I10": 2, "E11.9": 2, "E03.9": 2,
    },
    "35-49": {
        "M54.5": 16, "I10": 12, "F32.9": 11, "F41.1": 9, "E11.9": 8, "K21.9": 8, "J06.9": 8, "E78.5": 6,
        "G43.909": 6, "J45.909": 5, "E03.9": 4, "N39.0": 4, "C50.911": 2,
    },
    "50-64": {
        "I10": 20, "E11.9": 15, "E78.5": 13, "M54.5": 10, "M17.11": 6, "K21.9": 6, "F32.9": 6, "I25.10": 5,
        "J44.9": 4, "C50.911": 3, "E03.9": 3, "C61": 2, "N18.3": 2, "C34.90": 1, "J06.9": 3,
    },
    "65-79": {
        "I10": 22, "E11.9": 16, "E78.5": 13, "M17.11": 10, "I25.10": 9, "J44.9": 8, "N18.3": 7, "I48.91": 7,
        "C61": 4, "C50.911": 3, "C34.90": 3, "K21.9": 3, "F32.9": 3, "M54.5": 4,
    },
    "80+": {
        "I10": 20, "I48.91": 13, "N18.3": 13, "E11.9": 11, "I25.10": 10, "M17.11": 9, "J44.9": 7, "E78.5": 6,
        "N39.0": 5, "F32.9": 2, "C61": 2, "C34.90": 1,
    },
}

REGIONS = ("North", "East", "South", "West", "Central")
REGION_WEIGHTS = (0.22, 0.18, 0.24, 0.16, 0.20)


@dataclass(frozen=True)
class Patient:
    patient_id: str
    age_band: str
    sex: str
    region: str
    enrolment_year: int
    enrolled: bool


def make_patients(rng: random.Random) -> list[Patient]:
    bands = list(AGE_BANDS)
    shares = [share for share, _ in AGE_BANDS.values()]
    not_enrolled = set(rng.sample(range(N_PATIENTS), N_NOT_ENROLLED))
    return [
        Patient(
            patient_id=f"P{number + 1:05d}",
            age_band=rng.choices(bands, shares)[0],
            sex=rng.choice("FM"),
            region=rng.choices(REGIONS, REGION_WEIGHTS)[0],
            enrolment_year=rng.randint(2012, 2023),
            enrolled=number not in not_enrolled,
        )
        for number in range(N_PATIENTS)
    ]


def make_claims(rng: random.Random, patients: list[Patient]) -> list[list[str]]:
    claim_weights = [AGE_BANDS[p.age_band][1] for p in patients]
    rows = []
    for number in range(N_CLAIMS):
        patient = rng.choices(patients, claim_weights)[0]
        prevalence = {
            code: weight
            for code, weight in PREVALENCE[patient.age_band].items()
            if DIAGNOSES[code].sex in (None, patient.sex)
        }
        diagnosis = DIAGNOSES[rng.choices(list(prevalence), list(prevalence.values()))[0]]
        cost = diagnosis.base_cost_eur * rng.lognormvariate(0.0, 0.35)
        rows.append(
            [
                f"CLM{number + 1:06d}",
                patient.patient_id,
                patient.age_band,
                patient.sex,
                diagnosis.code,
                rng.choice(diagnosis.prescriptions),
                f"{cost:.2f}",
            ]
        )
    return rows


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main() -> None:
    rng = random.Random(SEED)
    patients = make_patients(rng)
    claims = make_claims(rng, patients)
    write_csv(
        EXAMPLE_DIR / "data" / "claims.csv",
        ["claim_id", "patient_id", "age_band", "sex", "icd10_code", "prescription", "cost_eur"],
        claims,
    )
    write_csv(
        EXAMPLE_DIR / "data" / "restricted" / "patient_register.csv",
        ["patient_id", "region", "enrolment_year"],
        [[p.patient_id, p.region, str(p.enrolment_year)] for p in patients if p.enrolled],
    )


if __name__ == "__main__":
    main()
