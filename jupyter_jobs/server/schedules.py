"""Schedule routes: create, list, read, pause, resume and delete schedules, their runs, a cron's preview.

A notebook under the server's root is scheduled by `lab.py`'s handler (it builds the job as its
"Run as job" does); the server's firing loop is in `app.py`.
"""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..service.schedules import InvalidTiming
from ..service.schemas import ScheduleList, ScheduleRequest
from ..service.service import JobsService
from .base import JobsHandler
from .models import RunList


class SchedulesHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self):
        self.send(ScheduleList(schedules=await self.call(JobsService.list_schedules)))

    @web.authenticated
    @authorized("execute")  # it starts jobs, as a submit does
    async def post(self):
        request: ScheduleRequest = self.body(ScheduleRequest)
        if request.job.origin.user is None and self.user_name:
            origin = request.job.origin.model_copy(update={"user": self.user_name})
            request = request.model_copy(update={"job": request.job.model_copy(update={"origin": origin})})
        schedule = await self.call(JobsService.create_schedule, request)
        self.set_header("Location", self.jobs.api_url(f"schedules/{schedule.id}"))
        self.send(schedule, 201)


class CronPreviewHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self):
        cron = self.get_argument("cron", "").strip()
        if not cron:
            raise InvalidTiming("cron: give a cron expression, e.g. cron=0 3 * * *", field="cron")
        self.send(await self.call(JobsService.cron_preview, cron, self.get_argument("timezone", "UTC")))


class ScheduleHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self, schedule_id: str):
        self.send(await self.call(JobsService.get_schedule, schedule_id))

    @web.authenticated
    @authorized
    async def delete(self, schedule_id: str):
        await self.call(JobsService.delete_schedule, schedule_id)
        self.set_status(204)
        self.finish()


class SchedulePauseHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def post(self, schedule_id: str):
        self.send(await self.call(JobsService.pause_schedule, schedule_id))


class ScheduleResumeHandler(JobsHandler):
    @web.authenticated
    @authorized("execute")  # it starts jobs again
    async def post(self, schedule_id: str):
        self.send(await self.call(JobsService.resume_schedule, schedule_id))


class ScheduleRunsHandler(JobsHandler):
    @web.authenticated
    @authorized
    async def get(self, schedule_id: str):
        runs = await self.call(JobsService.schedule_runs, schedule_id)
        self.send(RunList(runs=runs, limit=len(runs), offset=0))
