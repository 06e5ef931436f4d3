"""A notebook run's parameters, read back from its stored bundle, and changed for a fork.

A notebook job carries `.jobs/job.json` (which notebook, which parameters) and the notebook itself in
its bundle, so a fork can change parameters without the notebook being on the forking side.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from pathlib import Path
from typing import Any

from ..errors import JobsError, SubmitError
from ..runner.protocol import JOB_FILE
from ..spec.bundle import Bundle, BundleFile
from .parameters import check_parameters


def _job_file(bundle: Bundle) -> BundleFile:
    for file in bundle.code.files if bundle.code else []:
        if file.path == JOB_FILE and file.sha256:
            return file
    raise SubmitError("parameters: this run is not a notebook job, so it has no parameters",
                      hint="parameters change notebook runs (`jupyter jobs run`, \"Run as job\")")


def read_job(bundle: Bundle, blobs) -> dict:
    job = json.loads(blobs.path(_job_file(bundle).sha256).read_bytes())
    if job.get("mode") != "notebook":
        raise SubmitError("parameters: this run is a `%%job` cell, not a notebook with a `parameters` cell")
    return job


def read_notebook(bundle: Bundle, blobs, job: dict):
    """The notebook the run executed, as papermill reads it."""
    from .papermill_parts import read_notebook

    for entry in bundle.inputs:
        if entry.ref == job["notebook"] and entry.files and entry.files[0].sha256:
            with warnings.catch_warnings():  # a blob's name has no .ipynb, which papermill remarks on
                warnings.simplefilter("ignore", UserWarning)
                return read_notebook(blobs.path(entry.files[0].sha256))
    raise SubmitError(f"parameters: the run's notebook {job['notebook']} is not in its stored inputs")


def with_parameters(bundle: Bundle, blobs, changes: dict[str, Any], lenient: bool = False) -> tuple[Bundle, list[str]]:
    """A copy of the bundle whose job runs the notebook with `changes` over the run's parameters, and
    the warnings. Names the notebook's `parameters` cell does not set are refused as `run` refuses
    them (`check_parameters`), or with `lenient` passed with a warning."""
    job = read_job(bundle, blobs)
    try:
        notes = check_parameters(read_notebook(bundle, blobs, job), Path(job["notebook"]), changes, lenient)
    except JobsError as exc:
        raise SubmitError(f"parameters: {exc.message}", hint=exc.hint) from None
    job = {**job, "parameters": {**job.get("parameters", {}), **changes}}
    data = json.dumps(job, default=str).encode()
    sha = hashlib.sha256(data).hexdigest()
    if not blobs.has(sha):
        blobs.put_stream(sha, io.BytesIO(data))
    forked = bundle.model_copy(deep=True)
    for file in forked.code.files:
        if file.path == JOB_FILE:
            file.sha256, file.size = sha, len(data)
    return forked, notes
