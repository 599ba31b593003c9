"""A rotation function that is an HTTP endpoint: it receives the event a Lambda would.

Each step is one ``POST`` of the event as JSON (``{"Step", "SecretId",
"ClientRequestToken"}``, content type application/json); a 2xx answer is success,
anything else (another status, a timeout, a refused connection) fails the step.
The endpoint does its work by calling Garrison's Secrets Manager API with its own
credentials, as a Lambda calls it with its execution role; the `client` a Python
rotator gets is not used here.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from garrison.services.secretsmanager.rotation_functions import RotationClient

TIMEOUT_SECONDS = 30.0


class WebhookError(Exception):
    pass


class Webhook:
    def __init__(self, url: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url
        self.timeout = timeout

    def __call__(self, event: Mapping[str, str], client: RotationClient) -> None:
        try:
            answer = httpx.post(self.url, json=dict(event), timeout=self.timeout)
        except httpx.HTTPError as err:
            raise WebhookError(f"the webhook could not be reached: {type(err).__name__}") from None
        if not 200 <= answer.status_code < 300:
            raise WebhookError(
                f"the webhook answered {answer.status_code} to step {event.get('Step')}"
            )
