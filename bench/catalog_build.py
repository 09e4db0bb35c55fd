"""Build a synthetic catalog of N packages (default 100,000) for the search benchmark, in bulk through the tables.

Titles, descriptions, authors, keywords and file names are drawn from fixed word lists with Zipf-like
weights (a few words are in thousands of packages, most in a few), fixed by a seed: the same N and seed
give the same catalog. About one package in eight has two or three versions, two in five a DOI, one in ten
a linked publication, one in three governed runs. Rows go in with Core executemany, a chunk of packages
per transaction; ``search_text`` is what the importer writes (``index_text``), and on SQLite the
migration's triggers fill the FTS5 index as the rows arrive. No blobs are stored: the store is not searched.

    python bench/catalog_build.py [--packages N] [--seed S] [--catalog URL]

The catalog must be empty (a new SQLite file or an empty PostgreSQL database); it is migrated first.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Table, func, insert, select, text

from repropack.repository.catalog.database import open_catalog, upgrade_catalog
from repropack.repository.catalog.search import index_text
from repropack.repository.catalog.tables import (
    FileRow,
    GovernedRunRow,
    ImportRow,
    KeywordRow,
    PackageRow,
    PersonRow,
    PublicationRow,
    VersionKeywordRow,
    VersionPersonRow,
    VersionRow,
)

DEFAULT_PACKAGES = 100_000
DEFAULT_SEED = 20261202
CHUNK = 5_000  # packages per transaction
PEOPLE = 40_000
START = datetime(2020, 1, 1, tzinfo=timezone.utc)

ADJECTIVES = (  # noqa: SIM905 - a paragraph of words reads better than a list of strings
    "regional longitudinal spatial temporal comparative bayesian robust causal hierarchical multilevel seasonal "
    "urban rural coastal national global local early late rapid chronic acute hidden observed simulated "
    "adaptive reproducible open secure federated distributed synthetic clinical genomic cellular molecular "
    "thermal hydrological agricultural economic social linguistic historical digital mobile elderly juvenile "
    "annual monthly daily weekly extreme mild persistent transient nonlinear sparse dense"
).split()
NOUNS = (  # noqa: SIM905 - a paragraph of words reads better than a list of strings
    "rainfall temperature claims mortality incidence prevalence survival migration income employment housing "
    "traffic pollution emissions drought flooding erosion yield harvest fertility growth inflation trade "
    "tourism education literacy attendance vaccination infection transmission diagnosis therapy dosage "
    "expression variation mutation sequencing assembly annotation alignment clustering classification "
    "regression forecasting imputation segmentation detection tracking sampling calibration validation "
    "networks graphs trajectories sentiment speech translation vocabulary corpora citations collaboration "
    "productivity energy consumption electricity demand supply prices wages markets insurance hospitals "
    "admissions readmissions waiting times outcomes biomarkers proteins metabolites microbiome soil forests "
    "wildfires glaciers snowfall wind waves currents sediment salinity plankton fisheries birds pollinators "
    "earthquakes landslides volcanoes satellites imagery lidar radar sensors accelerometers sleep activity "
    "diet obesity diabetes hypertension asthma dementia depression anxiety wellbeing loneliness crime "
    "policing elections voting turnout polarisation media newspapers archives manuscripts inscriptions"
).split()
PLACES = (  # noqa: SIM905 - a paragraph of words reads better than a list of strings
    "Kyoto Hokkaidō Tōhoku Osaka Okinawa Kyūshū Shikoku Nagoya Sendai Fukuoka Sapporo Tokyo Kobe Nara "
    "Bavaria Saxony Flanders Wallonia Catalonia Andalusia Lombardy Sicily Provence Brittany Scotland Wales "
    "Ontario Quebec Alberta Texas Ohio Kerala Punjab Bengal Java Sumatra Luzon Mindanao Patagonia Andes "
    "Amazonia Sahel Ethiopia Kenya Ghana Nigeria Morocco Anatolia Siberia Lapland Iceland Greenland Tasmania "
    "Queensland Auckland Canterbury Hawaii Alaska Yukon Bohemia Moravia Silesia Transylvania Dalmatia Crete"
).split()
GIVEN = (  # noqa: SIM905 - a paragraph of words reads better than a list of strings
    "Ada Alan Grace Barbara Donald Edsger Frances John Katherine Margaret Tim Radia Shafi Leslie Yukihiro "
    "Haruki Aiko Hiroshi Yuki Sakura Kenji Naoko Takeshi Emiko Sōta Yūko Rin Daiki Mei Ren Hana Kaito Aoi "
    "Amélie François Zoë Søren Björn Jürgen Łukasz Zoltán Dvořák Ólafur Ngozi Chinua Amara Kwame Aisha Omar "
    "Fatima Leila Arjun Priya Ravi Ananya Wei Li Jing Hao Min Seo Joon Ji Thi Minh Lan Diego Lucía Mateo "
    "Valentina Camila João Beatriz Ines Carlos Sofía Elena Ivan Olga Dmitri Anya Mikko Aino Lars Ingrid"
).split()
FAMILY = (  # noqa: SIM905 - a paragraph of words reads better than a list of strings
    "Lovelace Turing Hopper Liskov Knuth Dijkstra Allen McCarthy Johnson Hamilton Berners-Lee Perlman Lamport "
    "Matsumoto Satō Suzuki Takahashi Tanaka Watanabe Itō Yamamoto Nakamura Kobayashi Katō Yoshida Yamada "
    "Sasaki Yamaguchi Matsumoto Inoue Kimura Hayashi Shimizu Saitō Kōno Ōno Endō Gotō Müller Schmidt Schneider "
    "Fischer Weber Meyer Wagner Becker Dubois Lefèvre Moreau García Fernández González Rodríguez López Martínez "
    "Sánchez Pérez Rossi Russo Ferrari Esposito Bianchi Romano Colombo Silva Santos Oliveira Souza Pereira "
    "Nowak Kowalski Wiśniewski Novák Svoboda Horváth Nagy Kovács Jensen Nielsen Hansen Andersson Johansson "
    "Virtanen Korhonen Okafor Adeyemi Mensah Osei Kariuki Haddad Nasser Khan Patel Sharma Gupta Iyer Reddy "
    "Wang Zhang Liu Chen Yang Huang Zhao Kim Lee Park Choi Nguyen Tran Pham Ivanov Petrov Smirnova O'Brien"
).split()
FILE_STEMS = (  # noqa: SIM905 - a paragraph of words reads better than a list of strings
    "analysis cleaning model figures tables summary results import export merge features train evaluate "
    "plots maps survey panel census registry readings stations sites subjects samples counts rates"
).split()
FILE_SUFFIXES = (".csv", ".csv", ".csv", ".parquet", ".json", ".png", ".svg", ".txt", ".py", ".tsv", ".xlsx")
LICENSES = ("CC-BY-4.0", "CC-BY-4.0", "CC0-1.0", "MIT", "Apache-2.0", "CC-BY-SA-4.0", None)
VERDICTS = ("reproduced", "reproduced", "reproduced", "not_reproduced", "failed")
VOCABULARY = sorted(set(ADJECTIVES + NOUNS + PLACES + FILE_STEMS))


@dataclass(frozen=True)
class BuildStats:
    packages: int
    versions: int
    files: int
    people: int
    keywords: int
    runs: int
    seconds: float


def zipf_weights(count: int, exponent: float = 1.0) -> list[float]:
    """Weights 1, 1/2^s, 1/3^s, ...: a few items drawn often, the long tail rarely (as words in real titles)."""
    return list(itertools.accumulate(1.0 / (rank**exponent) for rank in range(1, count + 1)))


class Words:
    """Seeded draws from the word lists, with a shuffled Zipf order per list (so common words differ by list)."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self._lists: dict[str, tuple[list[str], list[float]]] = {}
        for name, items in (("adj", ADJECTIVES), ("noun", NOUNS), ("place", PLACES), ("vocab", VOCABULARY),
                            ("stem", FILE_STEMS)):  # fmt: skip
            shuffled = list(items)
            self.random.shuffle(shuffled)
            self._lists[name] = (shuffled, zipf_weights(len(shuffled)))

    def draw(self, name: str, k: int = 1) -> list[str]:
        items, cumulative = self._lists[name]
        return self.random.choices(items, cum_weights=cumulative, k=k)

    def title(self) -> str:
        adjective, noun, other = self.draw("adj")[0], *self.draw("noun", 2)
        pattern = self.random.randrange(4)
        if pattern == 0:
            return f"{adjective.capitalize()} {noun} and {other} in {self.draw('place')[0]}"
        if pattern == 1:
            return f"{noun.capitalize()} of {adjective} {other}, {2000 + self.random.randrange(26)}"
        if pattern == 2:
            return f"Reproducing {adjective} {noun} estimates for {self.draw('place')[0]}"
        return f"{adjective.capitalize()} {noun}: a {self.draw('adj')[0]} study of {other}"

    def description(self) -> str:
        return " ".join(self.draw("vocab", self.random.randrange(15, 60))).capitalize() + "."

    def keywords(self) -> list[str]:
        return sorted(
            set(self.draw("noun", self.random.randrange(2, 6)) + self.draw("place", self.random.randrange(0, 2)))
        )

    def paths(self) -> list[str]:
        paths = {"analysis.ipynb", "requirements.txt"}
        for _ in range(self.random.randrange(2, 10)):
            folder = self.random.choice(("data/", "data/raw/", "outputs/", "figures/", ""))
            stem = self.draw("stem")[0]
            paths.add(f"{folder}{stem}_{self.random.randrange(100)}{self.random.choice(FILE_SUFFIXES)}")
        return sorted(paths)


def people(words: Words, count: int) -> list[dict]:
    """``count`` distinct people; about half with an ORCID-shaped identifier."""
    seen: set[tuple[str, str]] = set()
    rows: list[dict] = []
    while len(rows) < count:
        name = f"{words.random.choice(GIVEN)} {words.random.choice(FAMILY)}"
        identifier = ""
        if words.random.random() < 0.5:
            digits = f"{words.random.randrange(10**15):015d}"
            identifier = f"https://orcid.org/0000-{digits[3:7]}-{digits[7:11]}-{digits[11:15]}"
        if (name, identifier) in seen:
            continue
        seen.add((name, identifier))
        rows.append({"id": len(rows) + 1, "name": name, "identifier": identifier})
    return rows


def build_catalog(url: str, packages: int, seed: int = DEFAULT_SEED, progress=None) -> BuildStats:
    """Migrate the empty catalog at ``url`` and fill it with ``packages`` synthetic packages."""
    started = time.perf_counter()
    upgrade_catalog(url)
    catalog = open_catalog(url)
    words = Words(seed)
    try:
        with catalog.session() as session:
            if session.scalar(select(func.count()).select_from(PackageRow)):
                raise SystemExit(f"catalog {url} is not empty; give a new file or an empty database")
        person_rows = people(words, min(PEOPLE, max(10, packages // 2)))
        keyword_ids: dict[str, int] = {}
        counters = {"version": 0, "file": 0, "run": 0, "publication": 0, "import": 0}
        with catalog.engine.begin() as connection:
            connection.execute(insert(PersonRow.__table__), person_rows)
        for first in range(0, packages, CHUNK):
            rows = _chunk(words, first, min(CHUNK, packages - first), person_rows, keyword_ids, counters)
            with catalog.engine.begin() as connection:
                for table, values in rows:
                    if values:
                        connection.execute(insert(table), values)
            if progress:
                progress(first + min(CHUNK, packages - first))
        if catalog.dialect == "postgresql":
            _advance_sequences(catalog)
        # Statistics for the planner, as autovacuum would gather them on a catalog filled import by import; on
        # PostgreSQL VACUUM also marks the pages all-visible, so index-only scans need not visit the table.
        if catalog.dialect == "postgresql":
            with catalog.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE"))  # refused inside a transaction
        else:
            with catalog.engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        with catalog.session() as session:
            count = {row.__tablename__: session.scalar(select(func.count()).select_from(row))
                     for row in (VersionRow, FileRow, PersonRow, KeywordRow, GovernedRunRow)}  # fmt: skip
    finally:
        catalog.close()
    return BuildStats(
        packages, count["versions"], count["files"], count["people"], count["keywords"], count["governed_runs"],
        time.perf_counter() - started,
    )  # fmt: skip


def _chunk(words: Words, first: int, count: int, person_rows: list[dict], keyword_ids: dict[str, int],
           counters: dict[str, int]) -> list[tuple[Table, list[dict]]]:  # fmt: skip
    """The rows of packages ``first + 1 .. first + count``, table by table in foreign-key order."""
    rng = words.random
    packages, versions, files, authors, new_keywords, tagged, runs, publications, imports = ([] for _ in range(9))
    for package_id in range(first + 1, first + count + 1):
        created = START + timedelta(minutes=package_id * 7)
        public_id = "pkg-" + hashlib.sha256(f"{package_id}".encode()).hexdigest()[:12]
        packages.append({"id": package_id, "public_id": public_id, "key": f"id:{public_id}", "created_at": created})
        title, team = words.title(), rng.sample(person_rows, rng.randrange(1, 6))
        doi = f"10.{5000 + rng.randrange(400)}/zenodo.{rng.randrange(10**7):07d}" if rng.random() < 0.4 else None
        if rng.random() < 0.1:
            publications.append({"id": _next(counters, "publication"), "package_id": package_id,
                                 "doi": f"10.1{rng.randrange(100, 999)}/journal.{rng.randrange(10**6):06d}",
                                 "linked_at": created})  # fmt: skip
        previous = None
        count = rng.choice((2, 3)) if rng.random() < 0.125 else 1
        for number in range(1, 1 + count):
            version_id = _next(counters, "version")
            description, keywords, paths = words.description(), words.keywords(), words.paths()
            sizes = [rng.randrange(100, 5_000_000) for _ in paths]
            imported = created + timedelta(days=30 * (number - 1))
            versions.append({
                "id": version_id, "package_id": package_id, "number": number, "previous_id": previous,
                "content_digest": hashlib.sha256(f"{version_id}".encode()).hexdigest(), "format": "repropack",
                "title": title if number == 1 else f"{title} (revised)", "description": description,
                "license": rng.choice(LICENSES), "doi": doi, "work_version": str(number), "date_published": imported,
                "tool_version": "repropack 0.1.0", "metadata_sha256": hashlib.sha256(f"m{version_id}".encode()).hexdigest(),
                "source_name": f"{public_id}-{number}.crate.zip", "source_sha256": None, "zip_date_time": None,
                "file_count": len(paths), "total_bytes": sum(sizes), "imported_at": imported,
                "search_text": index_text(title, description, [p["name"] for p in team], keywords, paths),
                "is_latest": number == count, "newest_verdict": None,
            })  # fmt: skip
            imports.append({"id": _next(counters, "import"), "version_id": version_id, "source_name": f"{public_id}.zip",
                            "source_sha256": None, "outcome": "imported" if number == 1 else "new-version",
                            "operator": "bench", "at": imported})  # fmt: skip
            for path, size in zip(paths, sizes):
                files.append({"id": _next(counters, "file"), "version_id": version_id, "path": path,
                              "sha256": hashlib.sha256(f"{version_id}/{path}".encode()).hexdigest(), "size": size,
                              "role": "notebook" if path.endswith(".ipynb") else "input", "encoding_format": None,
                              "restricted": False})  # fmt: skip
            for position, person in enumerate(team):
                authors.append({"version_id": version_id, "person_id": person["id"], "role": "author",
                                "position": position})  # fmt: skip
            for word in keywords:
                word = word.casefold()
                if word not in keyword_ids:
                    keyword_ids[word] = len(keyword_ids) + 1
                    new_keywords.append({"id": keyword_ids[word], "word": word})
                tagged.append({"version_id": version_id, "keyword_id": keyword_ids[word]})
            own_runs = []
            if rng.random() < 1 / 3:
                for _ in range(rng.randrange(1, 4)):
                    finished = imported + timedelta(hours=rng.randrange(1, 2000))
                    own_runs.append({"id": _next(counters, "run"), "version_id": version_id, "verdict": rng.choice(VERDICTS),
                                 "cause": None, "started_at": finished - timedelta(minutes=5), "finished_at": finished,
                                 "record_sha256": hashlib.sha256(f"r{counters['run']}".encode()).hexdigest(),
                                 "signer": "ed25519:bench", "signature_verified": True, "source": "import",
                                 "imported_at": finished})  # fmt: skip
            if own_runs:  # what the importer keeps: the newest run's verdict (latest finish, then the higher id)
                newest = max(own_runs, key=lambda run: (run["finished_at"], run["id"]))
                versions[-1]["newest_verdict"] = newest["verdict"]
            runs += own_runs
            previous = version_id
    return [
        (PackageRow.__table__, packages),
        (PublicationRow.__table__, publications),
        (VersionRow.__table__, versions),
        (ImportRow.__table__, imports),
        (FileRow.__table__, files),
        (VersionPersonRow.__table__, authors),
        (KeywordRow.__table__, new_keywords),
        (VersionKeywordRow.__table__, tagged),
        (GovernedRunRow.__table__, runs),
    ]


def _next(counters: dict[str, int], name: str) -> int:
    counters[name] += 1
    return counters[name]


def _advance_sequences(catalog) -> None:
    """Explicit ids leave PostgreSQL's sequences at 1; move them past the rows so later inserts do not collide."""
    with catalog.engine.begin() as connection:
        for table in (
            "packages",
            "versions",
            "files",
            "people",
            "keywords",
            "publications",
            "governed_runs",
            "imports",
        ):
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))"
                )
            )


def default_sqlite_path(packages: int) -> Path:
    folder = Path(os.environ.get("REPROPACK_BENCH_DIR", Path(tempfile.gettempdir()) / "repropack-bench"))
    return folder / f"catalog-{packages}.sqlite"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=DEFAULT_PACKAGES)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--catalog", help="catalog URL (default: a new SQLite file in $REPROPACK_BENCH_DIR)")
    args = parser.parse_args()
    url = args.catalog
    if url is None:
        path = default_sqlite_path(args.packages)
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    stats = build_catalog(url, args.packages, args.seed, progress=lambda n: print(f"  {n} packages", file=sys.stderr))
    print(
        f"{stats.packages} packages, {stats.versions} versions, {stats.files} files, {stats.people} people, "
        f"{stats.keywords} keywords, {stats.runs} governed runs in {stats.seconds:.1f} s: {url}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
