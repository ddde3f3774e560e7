"""The end-to-end webhook scenario, shared by the test on this venv and the one on a fresh venv:
a real `titan serve` with the plugin configured, a REST write, a real receiver that fails once."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

import aiohttp
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from titan_plugin_webhook import SIGNATURE_HEADER, verify_signature

from tests.support.live_server import LiveServer, launch_serve, server_environment, wait_until_ready
from tests.support.services import LOOPBACK, free_port
from titan_core.model.identifiers import encode_identifier
from titan_core.testing import HttpReceiver

SECRET = "end-to-end-secret"
SHELL_ID = "https://example.com/ids/aas/webhook-e2e"
SHELL = {
    "modelType": "AssetAdministrationShell",
    "id": SHELL_ID,
    "idShort": "WebhookE2E",
    "assetInformation": {
        "assetKind": "Instance",
        "globalAssetId": "https://example.com/ids/asset/webhook-e2e",
    },
}


def webhook_environment(receiver: HttpReceiver) -> dict[str, str]:
    """The plugin's settings for `titan serve`: the receiver, a secret, quick retries."""
    return {
        "TITAN_WEBHOOK_URLS": receiver.url,
        "TITAN_WEBHOOK_SECRET": SECRET,
        "TITAN_WEBHOOK_BACKOFF": "0.05",
    }


def start_titan(
    command: Sequence[str],
    database_url: str,
    *,
    log_dir: Path,
    env: Mapping[str, str],
    isolated: bool = False,
) -> LiveServer:
    """Start `<command> serve` on a free port; return once `GET /ready` answers 200.

    `isolated` drops PYTHONPATH, so a fresh venv runs only what is installed in it.
    """
    port = free_port()
    log_path = log_dir / f"titan-serve-{port}.log"
    argv = [*command, "serve", "--host", LOOPBACK, "--port", str(port), "--database-url", database_url]
    environment = server_environment(env, isolated=isolated)
    server = launch_serve(argv, port, log_path=log_path, cwd=log_dir, env=environment)
    answers: list[str] = []

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{server.base_url}/ready", timeout=2) as response:
                return bool(response.status == 200)
        except urllib.error.HTTPError as refused:
            answers.append(f"GET /ready answered {refused.code}: {refused.read()[:500]!r}")
            return False

    return wait_until_ready(server, ready, timeout=60, what=f"titan serve on port {port} ready",
                            diagnostics=lambda: "\n".join([*answers[-1:], server.log_tail()]))  # fmt: skip


async def create_shell_and_expect_its_webhook(base_url: str, receiver: HttpReceiver) -> None:
    """POST a shell; the receiver answers the first delivery with 503 and must get it again, signed."""
    receiver.answer(503)
    async with aiohttp.ClientSession() as client:
        async with client.post(f"{base_url}/shells", json=SHELL) as response:
            assert response.status == 201, await response.text()

        failed, retried = await receiver.wait_for(2, timeout=20)

        assert failed.body == retried.body  # the same event, the same id, sent again
        for request in (failed, retried):
            assert request.headers["Content-Type"] == "application/cloudevents+json"
            verify_signature(SECRET, request.headers[SIGNATURE_HEADER], request.body)
        event = from_http_event(HTTPMessage(headers=dict(retried.headers), body=retried.body))
        assert event.get_type() == "io.admin-shell.events.v1.created"
        assert event.get_source() == f"/shells/{encode_identifier(SHELL_ID)}"
        assert event.get_extension("titanid") == SHELL_ID
        assert event.get_extension("titanorigin") == "rest"
        assert json.loads(retried.body)["data"]["idShort"] == "WebhookE2E"

        async with client.get(f"{base_url}/ready") as response:
            checks = (await response.json())["checks"]
        webhook = next(check for check in checks if check["plugin"] == "webhook")
        assert webhook["ok"] is True, webhook
        # At least the shell's event; where the discovery plugin is installed too, the shell's
        # asset_link event follows it (and may be delivered by now).
        delivered = re.search(r"(\d+) delivered", webhook["detail"])
        assert delivered is not None and int(delivered.group(1)) >= 1, webhook
