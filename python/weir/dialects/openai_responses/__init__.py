"""The OpenAI Responses API (`POST /v1/responses`): what Codex CLI speaks."""
