"""The ``actorschema`` logger, and the one record every rejected message gets on it.

The gateway (send side and results), the worker side and the brokers all log
through here, so a rejection reads the same wherever it happened.
"""

from __future__ import annotations

import logging
from typing import Any

from .errors import CheckFailed, PayloadRejected, PayloadTooLarge

__all__ = ["log_rejected_message", "log_rejection", "logger"]

#: Where actorschema logs: rejections (one structured record each), contracts that cannot be built.
logger = logging.getLogger("actorschema")


def log_rejection(
    rejection: PayloadRejected, message_id: Any, queue_name: Any, outcome: str, *, error: bool = False
) -> None:
    """One structured record per rejected message, on the ``actorschema`` logger.

    The record's ``actorschema`` attribute holds the fields: actor, message_id,
    queue, reason, paths, violations (path, problem, hint), outcome, and for
    a size rejection size, limit and limit_source.
    """
    extra: dict[str, Any] = {
        "actor": rejection.actor_name,
        "message_id": message_id,
        "queue": queue_name,
        "reason": rejection.title,
        "paths": list(rejection.paths),
        "violations": [v.as_dict() for v in rejection.violations],
        "outcome": outcome,
    }
    if isinstance(rejection, PayloadTooLarge):
        extra.update(size=rejection.size, limit=rejection.limit, limit_source=rejection.limit_source)
    level = logging.ERROR if error else logging.WARNING
    # An internal error carries its traceback, for the report its hint asks for.
    exc_info = rejection.__cause__ if isinstance(rejection, CheckFailed) else None
    logger.log(level, "%s\n  %s", rejection, outcome, extra={"actorschema": extra}, exc_info=exc_info)


def log_rejected_message(
    rejection: PayloadRejected, message: Any, outcome: str, *, error: bool = False
) -> None:
    """:func:`log_rejection` for a Message (its id and queue name come from it)."""
    log_rejection(rejection, message.message_id, message.queue_name, outcome, error=error)
