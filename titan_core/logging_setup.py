"""Log format and levels of the `titan` command; other libraries' routine chatter stays at DEBUG."""

from __future__ import annotations

import logging

# Alembic announces its plugins, its context and every upgrade step at INFO on each command;
# Titan logs one line of its own ("database schema is current").
_CHATTY_LOGGERS = ("alembic",)


class DemoteChatter(logging.Filter):
    """On a handler: INFO records of the chatty libraries become DEBUG, shown only when DEBUG is on.

    A handler filter, because a logger's own filters do not see its children's records
    (`alembic.runtime.plugins`) as they propagate.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or record.name.split(".")[0] not in _CHATTY_LOGGERS:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(existing, DemoteChatter) for existing in handler.filters):
            handler.addFilter(DemoteChatter())
