"""The catalog's tables (SQLAlchemy 2 declarative). The Alembic migrations create exactly these.

A *package* is a work across its versions (``key``: its DOI, its root identifier, or its title and first
author); a *version* is one admitted content (``content_digest`` over every stored file's path and sha256,
which is what makes an import idempotent). Files point at blobs by sha256; ``blobs`` lists what the store
must hold, so ``repository check`` can cross-check the two. People and keywords are shared between
versions. ``governed_runs`` are replays of a version (imported records, replays, governance), and
``imports`` is the audit trail of every import that changed the catalog. ``govern_runs`` and ``govern_tasks``
are the durable state of ``repropack govern``: what a policy run selected and how far each replay got.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class PackageRow(Base):
    __tablename__ = "packages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    key: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    versions: Mapped[list[VersionRow]] = relationship(back_populates="package", order_by="VersionRow.number")
    publications: Mapped[list[PublicationRow]] = relationship(back_populates="package")


class VersionRow(Base):
    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("package_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id"))
    content_digest: Mapped[str] = mapped_column(String(64), unique=True)
    format: Mapped[str] = mapped_column(String(16))  # "repropack" | "bagit" | "weko" | "rdm"
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    license: Mapped[str | None] = mapped_column(Text)
    doi: Mapped[str | None] = mapped_column(Text, index=True)
    work_version: Mapped[str | None] = mapped_column(Text)
    date_published: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tool_version: Mapped[str] = mapped_column(Text, default="")
    metadata_sha256: Mapped[str] = mapped_column(String(64), index=True)
    source_name: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str | None] = mapped_column(String(64))  # of the archive imported, when it was one
    zip_date_time: Mapped[str | None] = mapped_column(String(19))  # "YYYY-MM-DDTHH:MM:SS" of a zip's entries
    file_count: Mapped[int] = mapped_column(Integer)
    total_bytes: Mapped[int] = mapped_column(BigInteger)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # What full-text search reads: title, description, authors, keywords and file names, one text.
    search_text: Mapped[str] = mapped_column(Text, default="")
    # Kept by every writer in the same transaction (catalog/latest.py), so search filters on them directly: no
    # version of the package has a higher number; the verdict of this version's newest governed run.
    is_latest: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    newest_verdict: Mapped[str | None] = mapped_column(String(32))

    package: Mapped[PackageRow] = relationship(back_populates="versions")
    files: Mapped[list[FileRow]] = relationship(back_populates="version", order_by="FileRow.path")
    people: Mapped[list[VersionPersonRow]] = relationship(order_by="VersionPersonRow.position")
    keywords: Mapped[list[KeywordRow]] = relationship(secondary="version_keywords", order_by="KeywordRow.word")
    runs: Mapped[list[GovernedRunRow]] = relationship(back_populates="version", order_by="GovernedRunRow.finished_at")


class FileRow(Base):
    __tablename__ = "files"
    __table_args__ = (UniqueConstraint("version_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[str] = mapped_column(String(16))
    encoding_format: Mapped[str | None] = mapped_column(Text)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)  # described only: the store has no bytes
    # Any execute bit set when imported: checkout sets it again (a zip checkout is then the imported zip).
    executable: Mapped[bool] = mapped_column(Boolean, default=False)

    version: Mapped[VersionRow] = relationship(back_populates="files")


class BlobRow(Base):
    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)


class PersonRow(Base):
    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("name", "identifier"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    # An ORCID or other URL; "" when none, so the unique constraint holds (NULLs never collide in SQL).
    identifier: Mapped[str] = mapped_column(Text, default="")


class VersionPersonRow(Base):
    __tablename__ = "version_people"

    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)  # "author"
    position: Mapped[int] = mapped_column(Integer)

    person: Mapped[PersonRow] = relationship()


class KeywordRow(Base):
    __tablename__ = "keywords"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    word: Mapped[str] = mapped_column(Text, unique=True)  # casefolded


class VersionKeywordRow(Base):
    __tablename__ = "version_keywords"

    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), primary_key=True)
    keyword_id: Mapped[int] = mapped_column(ForeignKey("keywords.id"), primary_key=True, index=True)


class PublicationRow(Base):
    __tablename__ = "publications"
    __table_args__ = (UniqueConstraint("package_id", "doi"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id"), index=True)
    doi: Mapped[str] = mapped_column(Text, index=True)
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    package: Mapped[PackageRow] = relationship(back_populates="publications")


class GovernedRunRow(Base):
    __tablename__ = "governed_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    verdict: Mapped[str] = mapped_column(String(32))
    cause: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    record_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    signer: Mapped[str | None] = mapped_column(Text)  # the signing key's fingerprint
    signature_verified: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(16))  # "import" | "replay" | "govern"
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # What the history and the regressions read (migration 0002; None for runs catalogued before it):
    cause_kind: Mapped[str | None] = mapped_column(String(32))  # CauseKind's value
    base_image: Mapped[str | None] = mapped_column(Text)  # the base image's name
    base_image_id: Mapped[str | None] = mapped_column(Text)  # its engine id: a rebuilt base has a new one
    image_id: Mapped[str | None] = mapped_column(Text)  # the environment's image id (or the venv's python)
    image_reused: Mapped[bool | None] = mapped_column(Boolean)  # False: the environment was built for this run
    diff_summary: Mapped[str | None] = mapped_column(Text)  # one line per differing output, bounded
    record_blob: Mapped[str | None] = mapped_column(String(64))  # sha256 of the record's zip in the store
    govern_run_id: Mapped[int | None] = mapped_column(ForeignKey("govern_runs.id"), index=True)

    version: Mapped[VersionRow] = relationship(back_populates="runs")


class GovernRunRow(Base):
    """One run of a policy (``repropack govern run``): its tasks are the packages it selected.

    ``state`` is "running" until every task has ended ("finished"), or "stopped" when a SIGTERM ended it
    early; a "running" row nobody holds the policy's lock for was killed and is resumed by the next run.
    """

    __tablename__ = "govern_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    policy_name: Mapped[str] = mapped_column(Text, index=True)
    policy_sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # "running" | "finished" | "stopped"
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settings: Mapped[str] = mapped_column(Text, default="{}")  # JSON: name -> {"value", "source"}
    host: Mapped[str] = mapped_column(Text, default="")

    tasks: Mapped[list[GovernTaskRow]] = relationship(back_populates="run", order_by="GovernTaskRow.id")


class GovernTaskRow(Base):
    """One package version to replay in one policy run; ``key`` is its stable Dask key."""

    __tablename__ = "govern_tasks"
    __table_args__ = (UniqueConstraint("run_id", "version_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("govern_runs.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(16))  # TaskState's value
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    governed_run_id: Mapped[int | None] = mapped_column(ForeignKey("governed_runs.id"))
    detail: Mapped[str] = mapped_column(Text, default="")  # the last infrastructure error, or why it was refused
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    run: Mapped[GovernRunRow] = relationship(back_populates="tasks")


class ImportRow(Base):
    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id"), index=True)
    source_name: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))  # "imported" | "new-version" | "record"
    operator: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
