"""A run index URL that cannot work (`c.JobsSettings.db_url`) is one clear error naming the setting,
before anything runs; the database's password never appears in it."""

from __future__ import annotations

import pytest

from jupyter_jobs.service.db import IndexUnavailable
from jupyter_jobs.service.service import JobsService
from jupyter_jobs.settings import JobsSettings


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://jobs:pw@db/jobs", "c.JobsSettings.db_url: mysql is not supported for the run index"),
    ("not a url", "c.JobsSettings.db_url: 'not a url' is not a database URL"),
    ("sqlite://", "c.JobsSettings.db_url: an in-memory SQLite database cannot be shared"),
])
def test_an_unusable_url_is_refused_naming_the_setting(jobs_data_dir, url, says):
    with pytest.raises(IndexUnavailable) as refused:
        JobsService(JobsSettings(data_dir=str(jobs_data_dir), db_url=url))
    assert str(refused.value).startswith(says)


def test_an_unreachable_database_is_said_without_its_password(jobs_data_dir):
    pytest.importorskip("psycopg")
    url = "postgresql+psycopg://jobs:s3cret-pw@127.0.0.1:1/jobs"  # nothing listens on port 1
    with pytest.raises(IndexUnavailable) as refused:
        JobsService(JobsSettings(data_dir=str(jobs_data_dir), db_url=url))
    message = str(refused.value)
    assert message.startswith("the run index at postgresql+psycopg://jobs:***@127.0.0.1:1/jobs cannot be reached")
    assert "s3cret-pw" not in message and "c.JobsSettings.db_url" in message
    assert refused.value.status == 503
