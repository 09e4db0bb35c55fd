"""The first catalog: packages, versions, files, blobs, people, keywords, publications, governed runs, imports,
and the full-text index over ``versions.search_text`` (an FTS5 table kept by triggers on SQLite, a GIN
index on a generated tsvector column on PostgreSQL).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "keywords",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("word", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("word"),
    )
    op.create_table(
        "packages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("identifier", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "identifier"),
    )
    op.create_table(
        "publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("doi", sa.Text(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["packages.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("package_id", "doi"),
    )
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_publications_doi"), ["doi"], unique=False)
        batch_op.create_index(batch_op.f("ix_publications_package_id"), ["package_id"], unique=False)

    op.create_table(
        "versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("previous_id", sa.Integer(), nullable=True),
        sa.Column("content_digest", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("license", sa.Text(), nullable=True),
        sa.Column("doi", sa.Text(), nullable=True),
        sa.Column("work_version", sa.Text(), nullable=True),
        sa.Column("date_published", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tool_version", sa.Text(), nullable=False),
        sa.Column("metadata_sha256", sa.String(length=64), nullable=False),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=True),
        sa.Column("zip_date_time", sa.String(length=19), nullable=True),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("is_latest", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("newest_verdict", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["packages.id"],
        ),
        sa.ForeignKeyConstraint(
            ["previous_id"],
            ["versions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("content_digest"),
        sa.UniqueConstraint("package_id", "number"),
    )
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_versions_doi"), ["doi"], unique=False)
        batch_op.create_index(batch_op.f("ix_versions_metadata_sha256"), ["metadata_sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_versions_package_id"), ["package_id"], unique=False)

    op.create_table(
        "files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("encoding_format", sa.Text(), nullable=True),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("executable", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version_id", "path"),
    )
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_files_sha256"), ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_files_version_id"), ["version_id"], unique=False)

    op.create_table(
        "governed_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=32), nullable=False),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("record_sha256", sa.String(length=64), nullable=False),
        sa.Column("signer", sa.Text(), nullable=True),
        sa.Column("signature_verified", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("record_sha256"),
    )
    with op.batch_alter_table("governed_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_governed_runs_version_id"), ["version_id"], unique=False)

    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("source_name", sa.Text(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("operator", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_imports_version_id"), ["version_id"], unique=False)

    op.create_table(
        "version_keywords",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("keyword_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["keyword_id"],
            ["keywords.id"],
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
        ),
        sa.PrimaryKeyConstraint("version_id", "keyword_id"),
    )
    with op.batch_alter_table("version_keywords", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_version_keywords_keyword_id"), ["keyword_id"], unique=False)

    op.create_table(
        "version_people",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["versions.id"],
        ),
        sa.PrimaryKeyConstraint("version_id", "person_id", "role"),
    )
    with op.batch_alter_table("version_people", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_version_people_person_id"), ["person_id"], unique=False)

    _create_search_index()


def downgrade() -> None:
    _drop_search_index()
    with op.batch_alter_table("version_people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_version_people_person_id"))

    op.drop_table("version_people")
    with op.batch_alter_table("version_keywords", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_version_keywords_keyword_id"))

    op.drop_table("version_keywords")
    with op.batch_alter_table("imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_imports_version_id"))

    op.drop_table("imports")
    with op.batch_alter_table("governed_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_governed_runs_version_id"))

    op.drop_table("governed_runs")
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_files_version_id"))
        batch_op.drop_index(batch_op.f("ix_files_sha256"))

    op.drop_table("files")
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_versions_package_id"))
        batch_op.drop_index(batch_op.f("ix_versions_metadata_sha256"))
        batch_op.drop_index(batch_op.f("ix_versions_doi"))

    op.drop_table("versions")
    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_publications_package_id"))
        batch_op.drop_index(batch_op.f("ix_publications_doi"))

    op.drop_table("publications")
    op.drop_table("people")
    op.drop_table("packages")
    op.drop_table("keywords")
    op.drop_table("blobs")


# SQLite: an external-content FTS5 table over versions.search_text, kept in step by triggers, so every writer
# of versions (importer, tests, bulk loaders) indexes in the same transaction without knowing about it.
_SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE version_search USING fts5("
    "search_text, content='versions', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER versions_search_insert AFTER INSERT ON versions BEGIN "
    "INSERT INTO version_search(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER versions_search_delete AFTER DELETE ON versions BEGIN "
    "INSERT INTO version_search(version_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER versions_search_update AFTER UPDATE OF search_text ON versions BEGIN "
    "INSERT INTO version_search(version_search, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO version_search(rowid, search_text) VALUES (new.id, new.search_text); END",
)
# PostgreSQL: the words kept in a generated column, so matching and ranking read them instead of parsing
# search_text again for every candidate row (that made a two-word search over 100,000 packages take seconds).
_POSTGRESQL_SEARCH = (
    "ALTER TABLE versions ADD COLUMN search_vector tsvector"
    " GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED",
    "CREATE INDEX ix_versions_search ON versions USING gin (search_vector)",
    # Most searches want only each package's latest version: their text is matched in this smaller index.
    "CREATE INDEX ix_versions_latest_search ON versions USING gin (search_vector) WHERE is_latest",
)
# Lookups search.py makes: DOIs are case-insensitive (it compares lower(doi)), people are found by identifier.
_SEARCH_LOOKUPS = (
    "CREATE INDEX ix_versions_doi_lower ON versions (lower(doi))",
    "CREATE INDEX ix_publications_doi_lower ON publications (lower(doi))",
    "CREATE INDEX ix_people_identifier ON people (identifier)",  # search by ORCID
    # A verdict without text: the versions saying it, newest first, from the index.
    "CREATE INDEX ix_versions_newest_verdict ON versions (newest_verdict, id)",
)
# A version's newest governed run (catalog/latest.py keeps its verdict in versions.newest_verdict; repository
# check compares the two): read from the index alone, already in order. SQLite keeps NULLs last in a DESC column
# by itself; PostgreSQL is told to, and has INCLUDE.
_NEWEST_RUN = {
    "sqlite": "CREATE INDEX ix_governed_runs_newest ON governed_runs (version_id, finished_at DESC, id DESC, verdict)",
    "postgresql": "CREATE INDEX ix_governed_runs_newest ON governed_runs"
    " (version_id, finished_at DESC NULLS LAST, id DESC) INCLUDE (verdict)",
}
# PostgreSQL: part of an author's name (ILIKE '%rossi%') through trigrams instead of a scan of every person.
# pg_trgm is an optimisation: where it is not installed or this role may not create it, search gives the same
# answers, only slower; a savepoint keeps such a refusal from failing the migration.
_TRIGRAM_INDEX = "CREATE INDEX ix_people_name_trgm ON people USING gin (name gin_trgm_ops)"


def _create_search_index() -> None:
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_SEARCH if dialect == "sqlite" else _POSTGRESQL_SEARCH if dialect == "postgresql" else ():
        op.execute(statement)
    for statement in _SEARCH_LOOKUPS:
        op.execute(statement)
    if dialect in _NEWEST_RUN:
        op.execute(_NEWEST_RUN[dialect])
    if dialect == "postgresql":
        _create_trigram_index()


def _create_trigram_index() -> None:
    bind = op.get_bind()
    if not bind.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").scalar():
        return
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            bind.exec_driver_sql(_TRIGRAM_INDEX)
    except sa.exc.DBAPIError:
        pass  # not allowed to this role: the savepoint is rolled back, the rest of the migration goes on


def _drop_search_index() -> None:
    dialect = op.get_bind().dialect.name
    # The pg_trgm extension stays: the operator may have installed it for more than this catalog.
    op.execute("DROP INDEX IF EXISTS ix_people_name_trgm")
    op.execute("DROP INDEX IF EXISTS ix_governed_runs_newest")
    op.execute("DROP INDEX IF EXISTS ix_versions_newest_verdict")
    op.execute("DROP INDEX IF EXISTS ix_people_identifier")
    op.execute("DROP INDEX IF EXISTS ix_publications_doi_lower")
    op.execute("DROP INDEX IF EXISTS ix_versions_doi_lower")
    if dialect == "sqlite":
        for trigger in ("versions_search_insert", "versions_search_delete", "versions_search_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS version_search")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_versions_latest_search")
        op.execute("DROP INDEX IF EXISTS ix_versions_search")
