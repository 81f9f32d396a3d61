"""Every template in the catalogue has an end-to-end test in this folder."""

from __future__ import annotations

from pathlib import Path

from botskis.marketplace.catalog import get_catalog


def test_every_template_is_deployed_by_an_end_to_end_test() -> None:
    sources = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*_templates.py"))
    missing = [t.slug for t in get_catalog().all() if f'"{t.slug}"' not in sources]
    assert missing == []
