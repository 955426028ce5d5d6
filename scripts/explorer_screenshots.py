"""Screenshots of the evidence explorer for the README, taken over a workspace (default: the demo's).

    make demo && .venv/bin/python scripts/explorer_screenshots.py --home .medkg/demo --out docs

Serves the workspace's graph read-only on a free port, as `medkg kg serve` does, and captures a few pages in
Debian's headless chromium (`make browser` installs it)."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import chromium  # noqa: E402

PAGES = {
    "concept": "concept?iri=DOID:399",
    "document": "document?iri=https://w3id.org/medkg/id/document/note_en_tb",
    "query": "query?example=labels",
    "search": "search?q=fiebre",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=REPO / ".medkg" / "demo")
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args()

    from medkg.config import Settings
    from medkg.explorer import Explorer
    from medkg.kg.server import serve
    from medkg.kg.store import OxigraphStore

    store = OxigraphStore(Settings(home=args.home).store_path)
    server = serve(store, port=0, pages=Explorer(store))
    server.start_background()
    driver = chromium.start_chromium(Path(tempfile.mkdtemp()), width=args.width, height=args.height)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        for name, path in PAGES.items():
            driver.get(server.base_url + path)
            time.sleep(0.3)  # fonts
            target = args.out / f"explorer-{name}.png"
            driver.save_screenshot(str(target))
            print(f"{target} ← {path}")
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()
        store.close()


if __name__ == "__main__":
    main()
