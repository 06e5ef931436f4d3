"""Code that runs inside the job's environment; standard library only."""
