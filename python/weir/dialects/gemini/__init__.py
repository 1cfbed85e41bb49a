"""The Gemini dialect (`generateContent`, `streamGenerateContent?alt=sse`): google-genai, @google/genai, Gemini CLI,
and Gemini upstreams.

`schema` holds the wire Structs (read in camelCase and snake_case alike); `content` converts parts both ways and
owns tool call ids and thought signatures; `config` maps generationConfig and toolConfig; `tool_schema` cleans
JSON Schema into Gemini's `parameters`; `request`, `response`, `stream` and `errors` are the dialect contract of
`dialects/base.py`. The request body names neither the model nor streaming (both are in the URL): see `request`.
"""
