"""The Jupyter server extension: REST handlers over one JobsService, under `/jobs/`.

Imported only by Jupyter Server (see `jupyter_jobs._jupyter_server_extension_points`); the CLI and the
magics never import this package, so they do not pay for Tornado or jupyter_server.
"""
