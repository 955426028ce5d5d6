"""The evidence explorer in a real headless browser: Debian's chromium driven by its chromedriver (selenium).

Nothing is downloaded: selenium is pointed at /usr/bin/chromium and /usr/bin/chromedriver, which `make browser`
installs (apt packages chromium, chromium-driver; `.ci/run` runs it). Each page is also captured as a PNG in the
test's tmp folder; the README's screenshots come from scripts/explorer_screenshots.py over the demo workspace."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

import chromium
from conftest import EXPLORER_NOTE
from medkg.kg import namespaces as ns

NOTE_IRI = "https://w3id.org/medkg/id/document/note_tb"

pytest.importorskip("selenium", reason="needs selenium (the test extra)")
if not chromium.available():
    pytest.skip(f"needs Debian's chromium and chromium-driver ({chromium.CHROMIUM}, {chromium.CHROMEDRIVER}); "
                "`make browser` (run by .ci/run) installs them", allow_module_level=True)

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = chromium.start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("screenshots")

    def take(driver, name: str) -> Path:
        path = folder / f"explorer-{name}.png"
        assert driver.save_screenshot(str(path))
        assert path.stat().st_size > 10_000 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        return path

    return take


def wait(driver, condition, seconds: float = 30):
    return WebDriverWait(driver, seconds).until(condition)


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE"]


def test_run_a_saved_query_and_follow_a_result_to_its_concept_page(browser, explorer_server, shots):
    browser.get(explorer_server.base_url)
    assert browser.title.startswith("medkg evidence explorer")
    browser.find_element(By.LINK_TEXT, "labels").click()                        # a saved query, from the home page
    wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, "table.results tbody tr")))
    rows = browser.find_elements(By.CSS_SELECTOR, "table.results tbody tr")
    names = {row.find_elements(By.TAG_NAME, "td")[2].text for row in rows}
    assert {"Fever@en", "Fiebre@es", "Febbre@it"} <= {n.replace(" ", "") for n in names}
    shots(browser, "query")
    # edit the query in the textarea and run it with the keyboard, as a user would
    editor = browser.find_element(By.ID, "sparql")
    editor.clear()
    editor.send_keys("SELECT ?concept WHERE { ?concept rdfs:label \"tuberculosis\"@en }")
    browser.find_element(By.ID, "run").click()
    link = wait(browser, EC.element_to_be_clickable((By.LINK_TEXT, "DOID:399")))
    link.click()
    wait(browser, EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "tuberculosis"))
    assert "/concept?iri=" in browser.current_url
    sections = {s.get_attribute("id") for s in browser.find_elements(By.CSS_SELECTOR, "main section")}
    assert {"names", "definitions", "hierarchy", "xrefs", "matches", "articles", "passages", "documents"} <= sections
    shots(browser, "concept")
    assert console_errors(browser) == []


def test_search_box_finds_a_concept_by_its_spanish_name(browser, explorer_server, shots):
    browser.get(explorer_server.base_url)
    box = browser.find_element(By.CSS_SELECTOR, "main form.big-search input[name=q]")
    box.send_keys("fiebre\n")
    wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, "table.hits tbody tr")))
    first = browser.find_element(By.CSS_SELECTOR, "table.hits tbody tr td a")
    assert first.get_attribute("title") == ns.OBO + "HP_0001945"
    shots(browser, "search")
    first.click()
    wait(browser, EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Fever"))
    assert browser.find_element(By.CSS_SELECTOR, '#names td[lang="es"]').text == "Fiebre"


def test_open_a_document_and_click_a_highlighted_span(browser, explorer_server, shots):
    browser.get(explorer_server.base_url)
    browser.find_element(By.LINK_TEXT, "note_tb").click()
    text = wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".doc-text")))
    assert text.text == EXPLORER_NOTE  # the browser shows the document's text exactly
    negated = browser.find_element(By.CSS_SELECTOR, ".doc-text .ann.a-negated")
    assert negated.text == "fever"
    assert "line-through" in negated.value_of_css_property("text-decoration")
    colours = {span.value_of_css_property("background-color")
               for span in browser.find_elements(By.CSS_SELECTOR, ".doc-text .ann.L0")}
    assert len(colours) >= 2  # one colour per concept type
    shots(browser, "document")
    ActionChains(browser).move_to_element(negated).perform()                   # hover outlines its table row too
    wait(browser, lambda b: "hl" in b.find_element(By.CSS_SELECTOR, f'tr[data-ann="{negated.get_attribute("data-ann")}"]')
         .get_attribute("class").split())
    href = "/concept?iri=" + quote(ns.OBO + "DOID_2957", safe="")
    span = browser.find_element(By.CSS_SELECTOR, f'.ann[data-href="{href}"]')
    span.click()                                                                 # followed by the page's script
    wait(browser, EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "pulmonary tuberculosis"))
    assert console_errors(browser) == []


def test_hostile_document_text_stays_text(browser, explorer_server):
    browser.get(explorer_server.base_url + "documents")
    browser.find_element(By.PARTIAL_LINK_TEXT, "evil").click()
    text = wait(browser, EC.presence_of_element_located((By.CSS_SELECTOR, ".doc-text")))
    assert '<script>alert("doc")</script>' in text.text and "<b>fever</b>" in text.text
    assert browser.find_elements(By.CSS_SELECTOR, ".doc-text script, .doc-text b") == []
    sources = browser.execute_script("return Array.from(document.scripts, s => s.getAttribute('src'))")
    assert sorted(sources) == ["/static/annotation_hover.js", "/static/explorer.js"]  # ours only, none inline
