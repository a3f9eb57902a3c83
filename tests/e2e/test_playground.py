"""The playground in a real headless Chromium (Debian's), driven by Playwright.

No browser is downloaded: Playwright drives the system's /usr/bin/chromium, which
`make browser` installs. Set PLAYGROUND_SCREENSHOT=path to keep a screenshot of the page.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from local_stack.emulator import FusionEmulator
from local_stack.esm import EventSourceMapping
from local_stack.pair_api_server import PairApiServer
from tests import images
from tests.e2e.conftest import Queues, TokenMinter, settle

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (installs Debian's chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


def test_a_face_dropped_on_a_catalogue_scene_comes_back_merged(
    browser: Browser,
    pair_api: PairApiServer,
    tokens: TokenMinter,
    mapping: EventSourceMapping,
    emulator: FusionEmulator,
    queues: Queues,
    tmp_path: Path,
) -> None:
    face = tmp_path / "face.jpg"
    face.write_bytes(images.as_jpeg("grace_hopper.jpg"))
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    # the link `make stack` prints: the page takes the signed token from its fragment
    page.goto(f"{pair_api.url}/playground/#token={tokens('browser-user')}")

    page.locator('#templates button[data-template-id="astronaut"]').click()
    page.set_input_files("#target", str(face))
    page.click("#merge")

    expect(page.locator("#status")).to_have_text("succeeded", timeout=60_000)
    result = page.locator("#result")
    expect(result).to_have_attribute("src", re.compile(r"/results/[0-9a-f]{32}/result\.(jpg|png)"))
    # the image really arrived and decoded in the browser, at the size the document states
    page.wait_for_function(
        "() => { const img = document.getElementById('result');"
        " return img.complete && img.naturalWidth > 0; }"
    )
    assert result.evaluate("img => img.naturalWidth") > 0
    expect(page.locator("#download")).to_be_visible()
    if screenshot := os.environ.get("PLAYGROUND_SCREENSHOT"):
        page.screenshot(path=screenshot, full_page=True)
    page.close()
    assert settle(emulator, queues)["calls"] == 1
