"""The webhook plugin delivering a REST change end to end from a real `titan serve` process (its
in-process tests are the plugin's own: plugins/titan_plugin_webhook/tests)."""

from __future__ import annotations

import sys
from pathlib import Path

from titan_core.testing import HttpReceiver

from .end_to_end import create_shell_and_expect_its_webhook, start_titan, webhook_environment


async def test_webhook_delivers_a_rest_change_end_to_end_and_retries_on_5xx(
    http_receiver: HttpReceiver, database_url: str, tmp_path: Path
) -> None:
    server = start_titan(
        [sys.executable, "-m", "titan_core"],
        database_url,
        log_dir=tmp_path,
        env=webhook_environment(http_receiver),
    )
    try:
        await create_shell_and_expect_its_webhook(server.base_url, http_receiver)
    finally:
        server.stop()
        print(server.log_tail(100))
