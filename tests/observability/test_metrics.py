"""The exposition: no `_created` series, and every metric it exports is documented in the README."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import ROOT
from weir.observability.metrics import RouteCounter, RouteMetrics, exposition


def exported() -> str:
    """The exposition as a scrape gets it (inside the event loop: it counts the loop's tasks)."""
    RouteMetrics("a-provider", "a-model").count(200)  # children with samples, as a serving worker has them
    RouteCounter("/v1/chat/completions").observe(200)
    body, content_type = exposition()
    assert content_type.startswith("text/plain")
    return body.decode()


async def test_no_created_series() -> None:
    text = exported()
    assert "weir_upstream_requests_total{" in text
    assert "_created" not in text


async def test_every_exported_metric_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("\n## Metrics\n") :]
    section = section[: section.index("\n## ", 1)]
    names = {family.name for family in text_string_to_metric_families(exported())}
    ours = {name for name in names if name.startswith("weir_")}
    assert len(ours) >= 10
    missing = [n for n in sorted(ours) if not re.search(rf"`{n}(_total)?`", section)]
    assert not missing, f"metrics missing from the README's Metrics section: {missing}"
    # prometheus-client's own collectors are documented by family prefix.
    for prefix in {name.split("_", 1)[0] for name in names - ours}:
        assert f"`{prefix}_*`" in section, prefix
