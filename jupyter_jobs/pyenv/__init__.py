"""Python environments for jobs: find what a job's code needs, pin it, and build it once per lock.

Submodules stay importable without third-party packages (only `detect` uses pydantic models), because
detection may run under a user's interpreter and `cache` runs inside containers that hold only the
standard library and the `uv` binary.
"""
