"""Where the tests' real-world data lives, inside this repository.

`tests/corpus/` holds real repositories at real commits with hand-checked
`expected.json`; `tests/fixtures/webhooks/` real webhook payloads; and
`tests/fixtures/github-openapi-subset.json` GitHub's own OpenAPI description of
the endpoints the App and the fake use (see `tests/fixtures/OPENAPI-SOURCE.md`).
"""

from pathlib import Path
from typing import Final

TESTS: Final = Path(__file__).resolve().parent
CORPUS: Final = TESTS / "corpus"
FIXTURES: Final = TESTS / "fixtures"
WEBHOOKS: Final = FIXTURES / "webhooks"
OPENAPI: Final = FIXTURES / "github-openapi-subset.json"
