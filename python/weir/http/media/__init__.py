"""OpenAI's non-chat endpoints: embeddings, image generation, speech, transcription and translation.

Each is proxied to the model's OpenAI-dialect upstream with `model` rewritten, metered from the upstream's answer
(or, for speech, the request) and priced per token, image, character or second of audio as the model's price
table says; the calls are authenticated, admitted, recorded and settled exactly like chat calls.
"""

from __future__ import annotations

from starlette.types import ASGIApp

from weir.gateway import Gateway
from weir.http.media.json_calls import Embeddings, ImageGenerations
from weir.http.media.speech import Speech
from weir.http.media.transcriptions import Transcriptions, Translations

ENDPOINTS = (Embeddings, ImageGenerations, Speech, Transcriptions, Translations)


def media_routes(gateway: Gateway) -> dict[str, ASGIApp]:
    """Path -> endpoint, for the hot-path table (POST only)."""
    return {"/v1" + endpoint.path: endpoint(gateway) for endpoint in ENDPOINTS}
