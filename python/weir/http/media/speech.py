"""POST /v1/audio/speech: JSON in, audio out, streamed back chunk by chunk as the upstream produces it (see
pipeline/relay/media.py SpeechLeg for what is charged when)."""

from __future__ import annotations

from typing import Any

from weir.billing.meter import Units
from weir.errors import InvalidRequest
from weir.http.media.json_calls import JsonEndpoint
from weir.pipeline.attempt import Leg, Outgoing
from weir.pipeline.call import Call
from weir.pipeline.relay.media import SpeechLeg


class Speech(JsonEndpoint):
    path = "/audio/speech"
    route = "audio_speech"
    stream = True

    def check(self, payload: dict[str, Any]) -> None:
        text = payload.get("input")
        if not isinstance(text, str) or not text:
            raise InvalidRequest("'input' is required and must be a non-empty string.", param="input")
        voice = payload.get("voice")
        if voice is None:
            raise InvalidRequest("'voice' is required.", param="voice")

    def leg(self, call: Call, out: Outgoing, payload: dict[str, Any]) -> Leg:
        return SpeechLeg(call, out, len(payload["input"]))

    def most(self, payload: dict[str, Any], max_output: int) -> tuple[int, Units]:
        return max_output, Units(characters=len(payload["input"]))  # audio tokens (gpt-4o-mini-tts) at most
