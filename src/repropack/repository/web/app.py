"""The repository's read-only web view: a searchable list, package pages, file downloads and a JSON API.

Nothing here writes: every method but GET and HEAD is answered 405 before routing. What is shown comes
from strangers' packages, so templates escape everything (Jinja autoescape), notebooks are rendered as
text and checked PNGs only (``notebook.py``), every page carries a Content-Security-Policy that allows
no script at all, and a download is only ever a file the catalog lists for that version, by exact path,
read from the store by its sha256: a URL path never becomes a filesystem path. Restricted files are
described, never served (403).

Each package page shows the history of its version's governed runs (``repository/history.py``); ``/regressions``
lists the packages whose newest verdict is worse than the one before (``repository/regressions.py``), and
``/api/regressions``, ``/api/packages/{id}/history`` give both as JSON.

Package pages carry FAIR signposting ``Link`` headers: the RO-Crate metadata (``describedby``), the
JSON view, each file (``item``) and the DOI (``cite-as``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from repropack import __version__
from repropack.errors import BadInput, CannotRun, CheckFailed
from repropack.fs.bounded import UnsafeData
from repropack.model import layout
from repropack.model.governance import HistoryEntry, Regression
from repropack.repository.catalog.database import Catalog
from repropack.repository.catalog.search import SearchHit, SearchQuery, search
from repropack.repository.history import package_history
from repropack.repository.location import RepositoryLocation
from repropack.repository.opened import Repository
from repropack.repository.queries import FileView, PackageView, Ref, as_json, package_view, resolve_ref, utc
from repropack.repository.regressions import find_regressions
from repropack.repository.store import Store
from repropack.repository.web.notebook import MAX_NOTEBOOK_BYTES, notebook_cells
from repropack.repository.web.stored import read_blob, stored_facts
from repropack.resources import template_dir

#: Every page: no script, no frames, no plugin, styles from this server, images from it or data: URIs.
PAGE_POLICY = "default-src 'none'; img-src data: 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
#: A downloaded file: nothing at all, even if a browser were to show it instead of saving it.
DOWNLOAD_POLICY = "default-src 'none'; sandbox"
READ_METHODS = ("GET", "HEAD")
LISTED = 50
#: Files named one by one in a package page's Link header (signposting); the rest are on the page.
MAX_LINKED_ITEMS = 100
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")
_CHUNK = 1 << 20
STYLESHEET = "repository.css"


@dataclass(frozen=True)
class _Site:
    repository: Repository
    pages: jinja2.Environment

    @property
    def catalog(self) -> Catalog:
        return self.repository.catalog

    @property
    def store(self) -> Store:
        return self.repository.store


def create_app(location: RepositoryLocation) -> Starlette:
    """The web view of the repository at ``location`` (CannotRun when its catalog cannot be opened)."""
    repository = Repository(location)
    repository.catalog  # noqa: B018  (opened now, so a bad catalog fails the start, not the first page)
    site = _Site(repository, _templates())

    @asynccontextmanager
    async def lifespan(_app: Starlette):
        yield
        repository.close()

    def page(endpoint):
        return lambda request: endpoint(site, request)

    routes = [
        Route("/", page(_list_page)),
        Route("/static/repository.css", page(_stylesheet)),
        Route("/packages/{public_id}", page(_package_page)),
        Route("/packages/{public_id}/{number:int}", page(_package_page)),
        Route("/packages/{public_id}/{number:int}/files/{path:path}", page(_download)),
        Route("/packages/{public_id}/{number:int}/notebooks/{path:path}", page(_notebook_page)),
        Route("/regressions", page(_regressions_page)),
        Route("/api/packages", page(_api_list)),
        Route("/api/regressions", page(_api_regressions)),
        Route("/api/packages/{public_id}/history", page(_api_history)),
        Route("/api/packages/{public_id}", page(_api_package)),
        Route("/api/packages/{public_id}/{number:int}", page(_api_package)),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(ReadOnly)],
        exception_handlers={HTTPException: lambda request, error: _error(site, request, error)},
        lifespan=lifespan,
    )


class ReadOnly:
    """Refuses every method but GET and HEAD (405, before any route runs) and adds the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}  # a download's own, stricter policy stays
                headers += [(k, v) for k, v in _SECURITY_HEADERS if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        if scope["method"] in READ_METHODS:
            await self.app(scope, receive, send_secured)
            return
        refusal = Response("this repository is read-only: only GET and HEAD\n", 405, media_type="text/plain")
        refusal.headers["Allow"] = ", ".join(READ_METHODS)
        await refusal(scope, receive, send_secured)


_SECURITY_HEADERS = [
    (b"content-security-policy", PAGE_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


# --- pages ------------------------------------------------------------------------------------------------


def _list_page(site: _Site, request: Request) -> Response:
    wanted = _search_query(request)
    hits = _search(site, wanted)
    later = None
    if len(hits) == wanted.limit:
        later = "/?" + urlencode({**request.query_params, "offset": wanted.offset + wanted.limit})
    return _render(site, "list.html.j2", q=wanted.text, wanted=wanted, hits=hits, later=later)


def _package_page(site: _Site, request: Request) -> Response:
    view = _view(site, request)
    facts = stored_facts(site.store, view.version)
    history = [entry for entry in _history(site, view.public_id) if entry.version == view.version.number]
    history.reverse()  # newest first, as a person reads a history
    verified = {run.record_sha256 for run in view.version.runs if run.signature_verified}
    response = _render(
        site, "package.html.j2", view=view, v=view.version, facts=facts, history=history, verified=verified, q=""
    )
    response.headers["Link"] = _signposts(request, view)
    return response


def _notebook_page(site: _Site, request: Request) -> Response:
    view = _view(site, request)
    file = _served_file(view, request.path_params["path"])
    data = read_blob(site.store, file, MAX_NOTEBOOK_BYTES)
    cells, problem = (), None
    if data is None:
        problem = f"this notebook is over {MAX_NOTEBOOK_BYTES // 2**20} MiB: download it to read it"
    else:
        try:
            cells = notebook_cells(data)
        except UnsafeData as error:
            problem = f"this file cannot be shown as a notebook: {error}"
    return _render(site, "notebook.html.j2", view=view, v=view.version, file=file, cells=cells, problem=problem, q="")


def _download(site: _Site, request: Request) -> Response:
    view = _view(site, request)
    file = _served_file(view, request.path_params["path"])
    try:
        reader = site.store.open(file.sha256)
    except CannotRun:  # the message names the store's folder: not for visitors
        raise HTTPException(
            503, f"the stored copy of {file.path} is missing; 'repropack repository check' finds why"
        ) from None

    def chunks() -> Iterator[bytes]:
        with reader:
            while chunk := reader.read(_CHUNK):
                yield chunk

    headers = {
        "Content-Length": str(file.size),
        "Content-Disposition": _attachment(file.path.rsplit("/", 1)[-1]),
        "Content-Security-Policy": DOWNLOAD_POLICY,
        "ETag": f'"{file.sha256}"',
        "Cache-Control": "public, max-age=31536000, immutable",  # a version's bytes never change
    }
    return StreamingResponse(chunks(), headers=headers, media_type=_media_type(file))


def _stylesheet(site: _Site, request: Request) -> Response:
    css = (template_dir() / "web" / STYLESHEET).read_text(encoding="utf-8")
    return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


def _api_list(site: _Site, request: Request) -> Response:
    wanted = _search_query(request)
    return JSONResponse({"query": as_json(wanted), "hits": as_json(_search(site, wanted))})


def _api_package(site: _Site, request: Request) -> Response:
    return JSONResponse(as_json(_view(site, request)))


def _regressions_page(site: _Site, request: Request) -> Response:
    return _render(site, "regressions.html.j2", regressions=_regressions(site), q="")


def _api_regressions(site: _Site, request: Request) -> Response:
    return JSONResponse({"regressions": [regression.as_dict() for regression in _regressions(site)]})


def _api_history(site: _Site, request: Request) -> Response:
    public_id = request.path_params["public_id"]
    return JSONResponse({"id": public_id, "history": [entry.as_dict() for entry in _history(site, public_id)]})


def _error(site: _Site, request: Request, error: HTTPException) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": error.detail}, error.status_code)
    return _render(site, "error.html.j2", status=error.status_code, code=error.status_code, detail=error.detail, q="")


# --- helpers ----------------------------------------------------------------------------------------------


def _search_query(request: Request) -> SearchQuery:
    """The search the query string asks for (``q``, ``author``, ``keyword``, ``doi``, ``verdict``, paging); 400 if malformed."""
    params = request.query_params
    try:
        limit, offset = int(params.get("limit", LISTED)), int(params.get("offset", 0))
    except ValueError:
        raise HTTPException(400, "limit and offset must be whole numbers") from None
    if not 1 <= limit <= LISTED:
        raise HTTPException(400, f"limit {limit}: must be 1 to {LISTED}")
    return SearchQuery(
        text=params.get("q", "").strip(),
        **{name: params.get(name, "").strip() or None for name in ("author", "keyword", "doi", "verdict")},
        limit=limit,
        offset=offset,
    )


def _search(site: _Site, wanted: SearchQuery) -> list[SearchHit]:
    try:
        with site.catalog.session() as session:
            return search(session, wanted)
    except BadInput as error:
        raise HTTPException(400, str(error)) from None


def _view(site: _Site, request: Request) -> PackageView:
    """The package (and version) the URL names; 404 with the catalog's one line when there is none."""
    public_id = request.path_params["public_id"]
    try:
        ref = resolve_ref(public_id)
        if ref.number is not None:  # a version is a path segment here, never "@N"
            raise BadInput(f"{public_id!r}: not a package id (a version is /packages/ID/N)")
        with site.catalog.session() as session:
            return package_view(session, Ref(ref.public_id, request.path_params.get("number")))
    except BadInput as error:
        raise HTTPException(404, str(error)) from None


def _history(site: _Site, public_id: str) -> list[HistoryEntry]:
    """Every governed run of the package, oldest first; 404 with the catalog's one line when there is no such package."""
    try:
        if resolve_ref(public_id).number is not None:  # the history is every version's: a version is no part of it
            raise BadInput(f"{public_id!r}: not a package id (the history covers every version)")
        return package_history(site.repository, public_id)
    except (BadInput, CheckFailed) as error:
        raise HTTPException(404, str(error)) from None


def _regressions(site: _Site) -> list[Regression]:
    return find_regressions(site.repository)


def _served_file(view: PackageView, path: str) -> FileView:
    """The file at exactly ``path`` in the catalog for this version (never a path resolved on disk): 404 when
    there is none, 403 when it is restricted."""
    file = view.version.file(path) if layout.is_safe_package_path(path) else None
    if file is None:
        raise HTTPException(404, f"{view.public_id}@{view.version.number} has no file {path!r}")
    if file.restricted:
        raise HTTPException(403, f"{file.path} is restricted: the catalog describes it, the repository holds no copy")
    return file


def _media_type(file: FileView) -> str:
    declared = (file.encoding_format or "").strip().lower()
    return declared if _MEDIA_TYPE.fullmatch(declared) else "application/octet-stream"


def _attachment(name: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact UTF-8 one (RFC 6266, RFC 8187)."""
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name) or "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_url(view: PackageView, file: FileView, kind: str = "files") -> str:
    return f"/packages/{quote(view.public_id)}/{view.version.number}/{kind}/{quote(file.path, safe='/')}"


def _signposts(request: Request, view: PackageView) -> str:
    base = str(request.base_url).rstrip("/")
    version = f"{base}/packages/{quote(view.public_id)}/{view.version.number}"
    links = []
    metadata = view.version.file(layout.METADATA)
    if metadata is not None:
        links.append(f'<{base}{file_url(view, metadata)}>; rel="describedby"; type="application/ld+json"')
    links.append(
        f'<{base}/api/packages/{quote(view.public_id)}/{view.version.number}>; rel="describedby"; type="application/json"'
    )
    links += [f'<https://doi.org/{quote(doi, safe="/")}>; rel="cite-as"' for doi in view.dois[:1]]
    items = [f for f in view.version.files if not f.restricted][:MAX_LINKED_ITEMS]
    links += [f'<{base}{file_url(view, f)}>; rel="item"; type="{_media_type(f)}"' for f in items]
    if view.version.license and view.version.license.startswith("https://"):
        links.append(f'<{quote(view.version.license, safe=":/#?=&")}>; rel="license"')
    links.append(
        f'<{version}>; rel="self"' if request.path_params.get("number") else f'<{version}>; rel="latest-version"'
    )
    return ", ".join(links)


def _templates() -> jinja2.Environment:
    pages = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir() / "web")),
        autoescape=True,  # every title, name, path and output comes from a stranger's package
        undefined=jinja2.StrictUndefined,
    )
    pages.filters["size"] = human_size
    pages.filters["when"] = _when
    pages.globals.update(file_url=file_url, quote=quote, version=__version__, metadata_path=layout.METADATA)
    return pages


def _render(site: _Site, template: str, *, status: int = 200, **values) -> HTMLResponse:
    return HTMLResponse(site.pages.get_template(template).render(**values), status_code=status)


def human_size(size: int) -> str:
    """``1.5 MiB``, ``12 bytes``: a size a person reads at a glance (the exact bytes are in the JSON)."""
    if size < 1024:
        return f"{size} byte" + ("" if size == 1 else "s")
    value, unit = size / 1024, "KiB"
    for larger in ("MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{value:.1f} {unit}"


def _when(moment: datetime | None) -> str:
    return utc(moment).strftime("%Y-%m-%d %H:%M UTC") if moment else "—"
