"""The HTTP service: the same pipeline as the CLI, behind FastAPI.

`app` builds the application, `auth` says who may call and how much (bearer keys, rate, body
and queue limits, JSON errors with `Retry-After`), `routes` holds the `/v1` API, `page` the
editors' page, `worker` the one thread that owns all model work (single requests first,
batched together, then persisted jobs from `jobs`, a wave of articles at a time).
"""

from summarize.service.app import create_app
from summarize.service.auth import LOOPBACK, Limits, load_keys

__all__ = ["LOOPBACK", "Limits", "create_app", "load_keys"]
