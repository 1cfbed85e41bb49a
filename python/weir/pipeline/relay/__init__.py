"""Relays: what an attempt does with a good upstream answer. Byte passthrough when the upstream speaks the
client's dialect, translation through the canonical form when it does not, and the media endpoints' own."""
