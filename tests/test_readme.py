"""The README points only at files of this repository."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_links_and_named_documents_exist() -> None:
    text = (ROOT / "README.md").read_text()
    assert "../shared" not in text and "DESIGN.md" not in text and "STYLE.md" not in text
    targets = re.findall(r"\]\(([^)#\s]+)", text)
    targets += re.findall(r"`([\w./-]+\.(?:md|yml|json|toml|sh))`", text)
    # Skip URLs and server paths such as /openapi.json.
    local = [t for t in targets if not re.match(r"[a-z]+://|/", t)]
    assert local, "the pattern finds the README's links"
    missing = sorted({t for t in local if not (ROOT / t).exists()})
    assert missing == []
