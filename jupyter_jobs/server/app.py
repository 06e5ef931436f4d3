"""The Jupyter server extension: one JobsService for the server's lifetime, REST handlers under `/jobs/`.

Enabled on `pip install` by `etc/jupyter/jupyter_server_config.d/jupyter_jobs.json`. Configure it in
`jupyter_server_config.py` (or `jupyter_jobs_config.py`, which the CLI reads too), e.g.
`c.JobsSettings.max_file_size = 2 * 1024**3` or `c.JobsApp.threads = 32`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Float, Instance, Int

from ..service.service import JobsService
from ..settings import JobsSettings
from .routes import ROUTES


class JobsApp(ExtensionApp):
    name = "jupyter_jobs"
    description = "Run notebook cells, notebooks and scripts as jobs."
    load_other_extensions = True
    classes = [JobsSettings]

    threads = Int(16, help="Threads for the service's blocking calls (database, files, starting runs).").tag(
        config=True)
    dispatch_interval = Float(0.5, help="Seconds between looks at the queue for runs that can start.").tag(
        config=True)
    jobs_settings = Instance(JobsSettings, allow_none=True)
    _tasks: list = []
    #: What time it is for the schedules' firing loop (tests set their own clock).
    clock: Callable[[], datetime] = staticmethod(lambda: datetime.now(timezone.utc))
    #: Failed scheduled runs already told in the log, since this server started (`_failures_since`).
    _failures_told: set[str]
    _failures_since = 0.0

    _pool: concurrent.futures.ThreadPoolExecutor | None = None
    _service_future: concurrent.futures.Future | None = None

    # -- start-up ---------------------------------------------------------------------------------------
    def initialize_settings(self) -> None:
        settings = JobsSettings(config=self.config)
        if not settings.project_dir:
            settings.project_dir = str(self.serverapp.root_dir)
        self.jobs_settings = settings
        # The service's own warnings (a schedule's tick that could not start, a run dir skipped) go to the
        # server's log, formatted as its other lines, rather than to Python's last-resort stderr handler.
        package_log = logging.getLogger("jupyter_jobs")
        package_log.parent, package_log.propagate = self.log, True
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=self.threads,
                                                           thread_name_prefix="jupyter-jobs")
        # Opening the database (and migrating it) can be slow: do it off the event loop; the handlers
        # wait for it, so the server starts serving at once.
        self._service_future = self._pool.submit(self._make_service)
        self._service_future.add_done_callback(self._service_ready)
        self.log.info("jupyter_jobs: data in %s, project dir %s", settings.data_dir, settings.project_dir)

    def _make_service(self):
        """Not embedded: this server dispatches its queue itself. Reconcile first, so runs that went on
        (or ended) while no server ran are re-attached or settled before anyone asks."""
        service = JobsService(self.jobs_settings, embedded=False)
        counts = service.reconcile()
        if counts:
            self.log.info("jupyter_jobs: reconciled unfinished runs: %s", counts)
        return service

    async def _start_jupyter_server_extension(self, serverapp) -> None:
        """Once the event loop runs: start queued runs as soon as they are submitted or capacity frees
        up (woken by submits, else every dispatch_interval), and delete expired data hourly."""
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        service = await self.service()
        service.wake = lambda: loop.call_soon_threadsafe(self._wake.set)
        self._failures_told, self._failures_since = set(), time.time()
        self._tasks = [asyncio.create_task(self._every(self.dispatch_interval, JobsService.dispatch, self._wake)),
                       asyncio.create_task(self._every(3600, JobsService.cleanup)),
                       asyncio.create_task(self._every(self.jobs_settings.schedule_poll_seconds, self.fire_schedules))]

    def fire_schedules(self, service: JobsService) -> None:
        """Fire the schedules due now (in a worker thread); say in the log which scheduled runs failed."""
        for run_id in service.fire_due(self.clock()):
            self.log.info("jupyter_jobs: a schedule started run %s", run_id)
        for run, schedule in service.scheduled_failures(self._failures_since):
            if run.id not in self._failures_told:
                self._failures_told.add(run.id)
                self.log.warning("jupyter_jobs: run %s of schedule %r (%s) %s: %s", run.id, schedule,
                                 run.schedule_id, run.status.value, run.error or f"exit code {run.exit_code}")

    async def _every(self, seconds: float, method: Callable[[JobsService], object],
                     wake: asyncio.Event | None = None) -> None:
        while True:
            if wake is None:
                await asyncio.sleep(seconds)
            else:
                try:
                    await asyncio.wait_for(wake.wait(), seconds)
                except asyncio.TimeoutError:
                    pass
                wake.clear()
            try:
                await self.run_in_pool(method, await self.service())
            except Exception as exc:  # keep the loop alive; say what went wrong
                self.log.warning("jupyter_jobs: %s failed: %s", method.__name__, exc)

    def _service_ready(self, future: concurrent.futures.Future) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            self.log.error("jupyter_jobs: the jobs service failed to start: %s", exc, exc_info=exc)

    def initialize_handlers(self) -> None:
        self.handlers.extend((route.pattern, route.handler) for route in ROUTES)

    # -- for the handlers -----------------------------------------------------------------------------------
    def openapi(self, base_url: str) -> dict:
        """The OpenAPI document of the routes this app registered (`GET /jobs/openapi.json`)."""
        from .openapi import build_openapi

        return build_openapi(ROUTES, base_url=base_url)

    async def service(self):
        """The JobsService, once it has started."""
        return await asyncio.wrap_future(self._service_future)

    def run_in_pool(self, fn, *args, **kwargs) -> asyncio.Future:
        return asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def api_url(self, path: str) -> str:
        return url_path_join(self.serverapp.base_url, "jobs", path)

    # -- shut-down ------------------------------------------------------------------------------------------
    async def stop_extension(self) -> None:
        """Runs keep going (they are detached); only this process's resources are released."""
        for task in self._tasks:
            task.cancel()
        future, pool = self._service_future, self._pool
        if future is None or pool is None:
            return
        try:
            service = await asyncio.wrap_future(future)
        except Exception:  # it never started; nothing to close
            service = None
        if service is not None:
            try:
                await asyncio.get_running_loop().run_in_executor(pool, service.close)
            except Exception as exc:  # never block the server's shut-down
                self.log.warning("jupyter_jobs: error while stopping the service: %s", exc)
        pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._service_future = None
        self.log.info("jupyter_jobs: stopped (runs keep going; they are re-attached on the next start)")
