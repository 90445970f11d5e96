"""Print the API's OpenAPI document as JSON, for the web console's generated TypeScript client.

    uv run python -m vms.api.export_openapi > web/src/api/openapi.json

The app is built around a throw-away container (in-memory SQLite, a temporary data dir); nothing is
connected or written: building the schema needs the routes only.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from vms.api.app import create_app
from vms.bootstrap import build_container
from vms.settings import Settings


async def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the api role, as a dict."""
    with tempfile.TemporaryDirectory(prefix="vms-openapi-") as tmp:
        settings = Settings(
            env="test",
            data_dir=Path(tmp),
            database={"url": "sqlite+aiosqlite:///:memory:"},
            storage={"root": Path(tmp) / "blobs"},
        )
        container = build_container(settings)
        try:
            return create_app(container).openapi()
        finally:
            await container.close()


def main() -> None:
    """Write the document to stdout, keys in a stable order so diffs stay small."""
    document = asyncio.run(openapi_document())
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
