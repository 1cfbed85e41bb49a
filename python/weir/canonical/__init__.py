"""The one internal representation every dialect converts to and from. Imports nothing from dialects/ or
upstreams/: a dialect knows the canonical form, never another dialect."""
