"""Drift reports for both services: the summary schema, the file store and the API.

Reports live on disk, one folder each: DATA_DIR/drift/<service>/<report_id>/ holding
`summary.json` and `report.html` (Evidently's self-contained page, about 4 MB).
A folder (a volume in compose) rather than MLflow artifacts because the APIs serve
the HTML straight from disk with no extra server in the way (a report stays readable
while MLflow is down), the bootstrap job, the command line and every API replica
share the same volume, and listing is a directory read. A report is written into a
hidden temporary folder and renamed into place, so a reader never sees half of one.

The router answers under /v1/drift (the API key applies): list, summary, HTML, and
POST to build a report for a window in a background thread (one build at a time per
process; jobs are kept in memory, so a job id is only known to the replica that took
it and is forgotten on restart, while the report it wrote stays).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import secrets
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, Protocol, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field, field_validator, model_validator

from api.common.errors import InvalidInput, NotFound
from api.common.settings import ServiceSettings

if TYPE_CHECKING:  # the bootstrap image has no prometheus_client
    from prometheus_client import Gauge

logger = logging.getLogger(__name__)

SUMMARY_FILE = "summary.json"
HTML_FILE = "report.html"
REPORT_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$")
MAX_WINDOW = timedelta(days=92)
JOBS_KEPT = 200


class DriftSettings(ServiceSettings):
    """Where reports go and when a window is worth a report (both services)."""

    data_dir: Path = Field(
        Path("data"), description="DATA_DIR; reports go to DATA_DIR/drift/<service>/."
    )
    drift_min_rows: int = Field(
        200, ge=1, description="Fewest current rows a window needs for a report."
    )
    drift_share_threshold: float = Field(
        0.5,
        gt=0,
        le=1,
        description="The dataset counts as drifted when at least this share of its "
        "columns drifted (Evidently's default). Sentinel's 20 features are "
        "aggregates of four signals (amount, time, customer, terminal): a change "
        "in one signal alone moves about a third of the columns, which the report "
        "lists without calling the window drifted.",
    )
    drift_keep_reports: int = Field(
        500, ge=1, description="Reports kept per service; the oldest go first."
    )
    drift_stream_maxlen: int = Field(
        200_000,
        ge=1000,
        description="Sentinel: scored transactions kept in the Redis stream "
        "(approximately; the oldest are trimmed).",
    )


# --- the summary ------------------------------------------------------------------


class ColumnDrift(BaseModel):
    """One column's drift test as Evidently ran it."""

    column: str
    test: str = Field(description="Evidently's statistical test or distance.")
    score: float = Field(description="The test's p-value or distance.")
    threshold: float
    drifted: bool


class ModelRef(BaseModel):
    name: str
    version: str
    run_id: str | None = None


class RowCounts(BaseModel):
    current: int = Field(description="Rows of the window the columns were tested on.")
    reference: int
    excluded: int = Field(
        0, description="Rows of the window left out (and why: notes)."
    )


class DriftSummary(BaseModel):
    """What a report found, small enough to list many (the HTML has the detail)."""

    report_id: str
    service: Literal["sentinel", "scout"]
    window_start: datetime
    window_end: datetime
    created_at: datetime
    dataset_drift: bool = Field(
        description="True when drift_share >= drift_share_threshold."
    )
    drift_share: float = Field(description="Share of tested columns that drifted.")
    drift_share_threshold: float
    drifted_columns: list[ColumnDrift]
    columns: list[ColumnDrift] = Field(description="Every tested column.")
    rows: RowCounts
    model: ModelRef
    figures: dict[str, float | int | None] = Field(
        default_factory=dict,
        description="Service figures: fraud rates (Sentinel), coverage (Scout).",
    )
    notes: list[str] = Field(default_factory=list)
    build_seconds: float


class TooLittleData(InvalidInput):
    """A window with fewer rows than a report needs (422, with both numbers)."""

    def __init__(self, what: str, rows: int, minimum: int, window: Window) -> None:
        super().__init__(
            f"the window {window.describe()} has {rows} {what}; a drift report needs "
            f"at least {minimum} (DRIFT_MIN_ROWS)",
            rows=rows,
            minimum=minimum,
            field="window_start",
        )
        self.rows = rows
        self.minimum = minimum


@dataclass(frozen=True)
class Window:
    """A half-open time window [start, end) in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(
                f"window_end ({self.end.isoformat()}) must be after window_start "
                f"({self.start.isoformat()})"
            )

    def describe(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"

    def label(self) -> str:
        """2025-04-05 23:59 → 2025-04-06 23:59 UTC, for headings."""
        stamp = "%Y-%m-%d %H:%M"
        start, end = self.start.astimezone(UTC), self.end.astimezone(UTC)
        return f"{start.strftime(stamp)} → {end.strftime(stamp)} UTC"

    def new_report_id(self) -> str:
        stamp = "%Y%m%dT%H%M%SZ"
        start = self.start.astimezone(UTC).strftime(stamp)
        end = self.end.astimezone(UTC).strftime(stamp)
        return f"{start}-{end}-{secrets.token_hex(3)}"


def as_utc(moment: datetime) -> datetime:
    """Naive times are taken as UTC; aware ones are converted to it.

    A time whose conversion leaves the calendar (year 1 at +00:01) is a ValueError,
    which request validation reports as a 422 on the field.
    """
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as error:
        raise ValueError(
            f"{moment.isoformat()} is outside the supported dates"
        ) from error


def _query_time(name: str, moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    try:
        return as_utc(moment)
    except ValueError as error:
        raise InvalidInput(f"{name}: {error}") from error


# --- the store --------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltReport:
    summary: DriftSummary
    html: str


@dataclass
class DriftStore:
    """Reports of one service under DATA_DIR/drift/<service>/."""

    root: Path
    keep: int = 500
    _cache_key: tuple[int, int] | None = field(default=None, init=False)
    _cache: list[DriftSummary] = field(default_factory=list, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    @classmethod
    def for_service(cls, settings: DriftSettings, service: str) -> DriftStore:
        return cls(settings.data_dir / "drift" / service, settings.drift_keep_reports)

    def save(self, report: BuiltReport) -> Path:
        """Write the summary and HTML atomically (a folder renamed into place)."""
        report_id = report.summary.report_id
        self.root.mkdir(parents=True, exist_ok=True)
        partial = self.root / f".{report_id}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        (partial / HTML_FILE).write_text(report.html, encoding="utf-8")
        (partial / SUMMARY_FILE).write_text(report.summary.model_dump_json(indent=2))
        final = self.root / report_id
        os.replace(partial, final)
        self._prune()
        return final

    def summaries(self) -> list[DriftSummary]:
        """Every stored summary, newest window first (cached until a folder changes)."""
        if not self.root.exists():
            return []
        stat = self.root.stat()
        key = (stat.st_mtime_ns, stat.st_nlink)
        with self._lock:
            if key != self._cache_key:
                self._cache = self._read_all()
                self._cache_key = key
            return list(self._cache)

    def _read_all(self) -> list[DriftSummary]:
        found = []
        for folder in self.root.iterdir():
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            try:
                text = (folder / SUMMARY_FILE).read_text()
                found.append(DriftSummary.model_validate_json(text))
            except (OSError, ValueError) as error:
                logger.warning(
                    "drift_summary_unreadable",
                    extra={"report_id": folder.name, "reason": str(error)[:200]},
                )
        return sorted(found, key=lambda s: (s.window_end, s.created_at), reverse=True)

    def get(self, report_id: str) -> DriftSummary:
        path = self._folder(report_id) / SUMMARY_FILE
        try:
            return DriftSummary.model_validate_json(path.read_text())
        except FileNotFoundError:
            raise _unknown_report(report_id) from None

    def html_path(self, report_id: str) -> Path:
        path = self._folder(report_id) / HTML_FILE
        if not path.exists():
            raise _unknown_report(report_id)
        return path

    def latest_drift_share(self) -> float:
        """Drift share of the report with the latest window (NaN when none)."""
        summaries = self.summaries()
        return summaries[0].drift_share if summaries else math.nan

    def _folder(self, report_id: str) -> Path:
        if not REPORT_ID.match(report_id):
            raise _unknown_report(report_id)
        return self.root / report_id

    def _prune(self) -> None:
        summaries = sorted(self._read_all(), key=lambda s: s.created_at, reverse=True)
        for old in summaries[self.keep :]:
            shutil.rmtree(self.root / old.report_id, ignore_errors=True)
            logger.info("drift_report_pruned", extra={"report_id": old.report_id})


def _unknown_report(report_id: str) -> NotFound:
    return NotFound(f"drift report {report_id} does not exist", report_id=report_id)


# --- building -----------------------------------------------------------------------


class PreparedWindow(Protocol):
    """The current data of a window, loaded and checked (enough rows)."""

    window: Window


Prepared = TypeVar("Prepared", bound=PreparedWindow)


class DriftSource(Protocol[Prepared]):
    """What a service plugs in: load a window's data, then build its report."""

    @property
    def service(self) -> str: ...

    def prepare(self, window: Window) -> Prepared:
        """Load the window's current data; TooLittleData when it is too small."""
        ...

    def build(self, prepared: Prepared) -> BuiltReport:
        """Run Evidently and summarise (slow: seconds to tens of seconds)."""
        ...


def build_and_store(
    source: DriftSource[Prepared], store: DriftStore, window: Window
) -> DriftSummary:
    """Prepare, build and save one report (the function API and the CLI use this)."""
    return _build_prepared(source, store, source.prepare(window))


def _build_prepared(
    source: DriftSource[Prepared], store: DriftStore, prepared: Prepared
) -> DriftSummary:
    started = time.perf_counter()
    report = source.build(prepared)
    store.save(report)
    summary = report.summary
    logger.info(
        "drift_report_built",
        extra={
            "service": source.service,
            "report_id": summary.report_id,
            "window_start": summary.window_start.isoformat(),
            "window_end": summary.window_end.isoformat(),
            "dataset_drift": summary.dataset_drift,
            "drift_share": round(summary.drift_share, 4),
            "rows": summary.rows.current,
            "model_version": summary.model.version,
            "seconds": round(time.perf_counter() - started, 2),
        },
    )
    return summary


JobStatus = Literal["queued", "running", "done", "failed"]


class DriftJob(BaseModel):
    job_id: str
    service: str
    status: JobStatus
    window_start: datetime
    window_end: datetime
    submitted_at: datetime
    finished_at: datetime | None = None
    report_id: str | None = None
    report_url: str | None = None
    error: str | None = None


class DriftJobs(Generic[Prepared]):
    """Background builds, one at a time, with their status kept in memory."""

    def __init__(self, source: DriftSource[Prepared], store: DriftStore) -> None:
        self.source = source
        self.store = store
        self._jobs: OrderedDict[str, DriftJob] = OrderedDict()
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    def submit(self, prepared: Prepared) -> DriftJob:
        job = DriftJob(
            job_id=uuid.uuid4().hex[:16],
            service=self.source.service,
            status="queued",
            window_start=prepared.window.start,
            window_end=prepared.window.end,
            submitted_at=datetime.now(UTC),
        )
        with self._lock:
            self._jobs[job.job_id] = job
            while len(self._jobs) > JOBS_KEPT:
                self._jobs.popitem(last=False)
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="drift")
        self._executor.submit(self._run, job.job_id, prepared)
        return job

    def get(self, job_id: str) -> DriftJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(
                f"drift job {job_id} is not known to this process (jobs are kept "
                "in memory; the report list shows what was built)",
                job_id=job_id,
            )
        return job

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                self._jobs[job_id] = job.model_copy(update=changes)

    def _run(self, job_id: str, prepared: Prepared) -> None:
        self._update(job_id, status="running")
        try:
            summary = _build_prepared(self.source, self.store, prepared)
        except Exception as error:  # the job records why; the log has the trace
            logger.exception(
                "drift_job_failed",
                extra={"job_id": job_id, "service": self.source.service},
            )
            reason = f"{type(error).__name__}: {error}"[:500]
            self._update(
                job_id, status="failed", error=reason, finished_at=datetime.now(UTC)
            )
            return
        self._update(
            job_id,
            status="done",
            report_id=summary.report_id,
            report_url=f"/v1/drift/reports/{summary.report_id}",
            finished_at=datetime.now(UTC),
        )


# --- the API ------------------------------------------------------------------------


class DriftWindowIn(BaseModel):
    """The window to build a report for; times without a zone are taken as UTC."""

    window_start: datetime
    window_end: datetime

    @field_validator("window_start", "window_end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)

    @model_validator(mode="after")
    def _ordered(self) -> DriftWindowIn:
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        if self.window_end - self.window_start > MAX_WINDOW:
            raise ValueError(f"a window may span at most {MAX_WINDOW.days} days")
        return self


class DriftReportList(BaseModel):
    count: int
    reports: list[DriftSummary]


def drift_router(
    source: DriftSource[Any], store: DriftStore, gauge: Gauge | None = None
) -> APIRouter:
    """Routes under /drift (mount inside the service's /v1 router)."""
    jobs = DriftJobs(source, store)
    if gauge is not None:
        # Evaluated at each scrape, so reports built elsewhere (bootstrap, command
        # line, another replica) show up too.
        gauge.set_function(store.latest_drift_share)
    router = APIRouter(prefix="/drift", tags=["drift"])
    service = source.service

    @router.get("/reports", summary="Drift reports, newest window first")
    def list_reports(
        since: Annotated[
            datetime | None, Query(description="Windows ending after this time.")
        ] = None,
        until: Annotated[
            datetime | None, Query(description="Windows starting before this time.")
        ] = None,
        drifted: Annotated[
            bool | None, Query(description="Only drifted (true) or calm (false).")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> DriftReportList:
        since, until = _query_time("since", since), _query_time("until", until)
        chosen = [
            summary
            for summary in store.summaries()
            if (since is None or summary.window_end > since)
            and (until is None or summary.window_start < until)
            and (drifted is None or summary.dataset_drift == drifted)
        ][:limit]
        return DriftReportList(count=len(chosen), reports=chosen)

    @router.get("/reports/{report_id}", summary="One report's summary")
    def get_report(report_id: str) -> DriftSummary:
        return store.get(report_id)

    @router.get(
        "/reports/{report_id}/html",
        summary="The Evidently report as a self-contained HTML page",
        response_class=FileResponse,
        responses={200: {"content": {"text/html": {}}}},
    )
    def get_report_html(report_id: str) -> FileResponse:
        return FileResponse(store.html_path(report_id), media_type="text/html")

    @router.post(
        "/reports",
        status_code=202,
        summary="Build a report for a window in the background; poll status_url",
        responses={422: {"description": "Invalid window, or too little data in it."}},
    )
    async def create_report(body: DriftWindowIn, request: Request) -> JSONResponse:
        window = Window(body.window_start, body.window_end)
        prepared = await asyncio.to_thread(source.prepare, window)
        job = jobs.submit(prepared)
        logger.info(
            "drift_job_submitted",
            extra={
                "service": service,
                "job_id": job.job_id,
                "window_start": window.start.isoformat(),
                "window_end": window.end.isoformat(),
            },
        )
        status_url = f"/v1/drift/jobs/{job.job_id}"
        body_out = {**job.model_dump(mode="json"), "status_url": status_url}
        return JSONResponse(body_out, status_code=202, headers={"Location": status_url})

    @router.get("/jobs/{job_id}", summary="Status of a report being built")
    def get_job(job_id: str) -> DriftJob:
        return jobs.get(job_id)

    return router


def load_drift_settings(service: str) -> DriftSettings:
    """The drift settings from the environment (exits with a message when wrong)."""
    from api.common.settings import load_settings

    return load_settings(DriftSettings, service)
