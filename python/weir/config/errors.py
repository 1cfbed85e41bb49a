"""The one error of the configuration: every problem at once, as `key.path: sentence`."""

from __future__ import annotations


class ConfigError(Exception):
    """The configuration is invalid. `problems` holds one `path: sentence` line per problem."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f" in {source}" if source else ""
        super().__init__(f"invalid configuration{where}:\n" + "\n".join(f"  - {p}" for p in problems))


class ConfigNotFound(ConfigError):
    """The configuration file does not exist: its own message, which says what to do."""

    def __init__(self, path: str) -> None:
        super().__init__([f"{path}: no such file"], path)
        self.path = path

    def __str__(self) -> str:
        return (
            f"{self.path} not found. Copy deploy/weir.example.toml (in Weir's source) there and edit it, "
            "or leave out --config (and $WEIR_CONFIG) to run on the embedded defaults."
        )
