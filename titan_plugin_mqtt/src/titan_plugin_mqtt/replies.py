"""Where Titan may send the outcome of a write: the MQTT 5 Response Topic, checked.

Titan publishes with its own broker login, which may write every topic under its prefix; a
response topic taken as given let a device put forged messages on event and value topics its own
login could not write (issue 13, M1). Replies therefore go only under the reply prefix (by default
`{prefix}/reply`, which the configuration keeps apart from every event and value topic), and for a
device under `{reply prefix}/{device}/`, so one device cannot answer into another's replies.
"""

from __future__ import annotations

# PUBLISH topic names may hold no wildcards (a broker would drop Titan's connection) and no NUL;
# MQTT strings are at most 65,535 bytes.
_FORBIDDEN = ("+", "#", "\x00")
_MAX_BYTES = 65_535


def reply_refusal(response_topic: str, allowed_under: str) -> str | None:
    """Why Titan will not publish on `response_topic` (a message for the device), or None if it may.

    `allowed_under` is the required beginning, ending in '/': `titan/reply/` or `titan/reply/press-7/`.
    """
    if not response_topic.startswith(allowed_under) or len(response_topic) == len(allowed_under):
        return (
            f"the response topic must lie under {allowed_under} (setting mqtt.reply_prefix); "
            "Titan answers nowhere else"
        )
    if any(char in response_topic for char in _FORBIDDEN):
        return "the response topic must not contain '+', '#' or NUL"
    if len(response_topic.encode("utf-8")) > _MAX_BYTES:
        return f"the response topic is longer than {_MAX_BYTES} bytes"
    return None
