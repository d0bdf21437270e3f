"""SARIF 2.1.0 for GitHub code scanning (`musl-check scan --format sarif`)."""

from __future__ import annotations

import hashlib
import json
from typing import Final
from urllib.parse import quote

from bot.core.findings import Finding, Report, Severity
from bot.core.render.shared import BLOG_URL, RULES

SARIF_SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"
# The project's own page is not fixed yet: callers pass it; the announcement
# explains what the tool checks.
INFORMATION_URI: Final = BLOG_URL
DEFAULT_VERSION: Final = "0.1.0"

_SARIF_LEVEL: Final = {
    Severity.FAILURE: "error",
    Severity.WARNING: "warning",
    Severity.NOTICE: "note",
}


def _fingerprint(finding: Finding) -> str:
    key = "\0".join((finding.rule.value, finding.path, finding.message))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def render_sarif(
    report: Report,
    *,
    version: str = DEFAULT_VERSION,
    information_uri: str = INFORMATION_URI,
) -> str:
    """Return a SARIF 2.1.0 log of the findings that GitHub code scanning accepts."""
    used = list(dict.fromkeys(f.rule for f in report.findings))
    index = {rule: i for i, rule in enumerate(used)}
    rules = [
        {
            "id": rule.value,
            "name": "".join(w.capitalize() for w in rule.value.split("-")),
            "shortDescription": {"text": RULES[rule].short},
            "fullDescription": {"text": RULES[rule].full},
            "help": {"text": RULES[rule].help, "markdown": RULES[rule].help},
            "helpUri": BLOG_URL,
            "defaultConfiguration": {"level": _SARIF_LEVEL[RULES[rule].severity]},
        }
        for rule in used
    ]
    results = [
        {
            "ruleId": f.rule.value,
            "ruleIndex": index[f.rule],
            "level": _SARIF_LEVEL[f.severity],
            "message": {
                "text": f.message + (f"\nFix: {f.fix}" if f.fix else ""),
            },
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {
                            "uri": quote(f.path.lstrip("/"), safe="/"),
                            "uriBaseId": "%SRCROOT%",
                        },
                        "region": {"startLine": max(1, f.line)},
                    }
                }
            ],
            "partialFingerprints": {"muslCheckFinding/v1": _fingerprint(f)},
        }
        for f in report.findings
    ]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "musl-check",
                        "informationUri": information_uri,
                        "version": version,
                        "semanticVersion": version,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
