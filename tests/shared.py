"""Where the shared test data lives: `../shared` beside the checkout (also in CI)."""

from pathlib import Path
from typing import Final

SHARED: Final = Path(__file__).resolve().parents[2] / "shared"
CORPUS: Final = SHARED / "corpus"
FIXTURES: Final = SHARED / "fixtures"
WEBHOOKS: Final = FIXTURES / "webhooks"
OPENAPI: Final = FIXTURES / "github-openapi-subset.json"
