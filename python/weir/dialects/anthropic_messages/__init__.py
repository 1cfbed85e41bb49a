"""The Anthropic Messages dialect (`POST /v1/messages`): Claude Code, the anthropic SDKs, and Anthropic upstreams.

`schema` holds the wire Structs; `content` converts content blocks both ways (and spells thinking from other
upstreams for Anthropic clients); `reasoning` maps `thinking` / `output_config.effort`; `request`, `response`,
`stream` and `errors` are the dialect contract of `dialects/base.py`.
"""
