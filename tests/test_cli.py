"""The command line: real commands on a real workspace; user errors are one line and exit status 2."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import DATA
from medkg.cli import app

runner = CliRunner()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no stray medkg.toml
    return tmp_path / "ws"


def run_main(home, *args) -> int:
    """The console-script entry point, which turns MedkgError into a message and exit status 2."""
    import sys

    from medkg.cli import main

    argv, sys.argv = sys.argv, ["medkg", "--home", str(home), *args]
    try:
        main()
    except SystemExit as exit_:
        return exit_.code
    finally:
        sys.argv = argv
    return 0


def medkg(home, *args):
    return runner.invoke(app, ["--home", str(home), *args], catch_exceptions=False)


def test_load_query_and_stats(home):
    result = medkg(home, "kg", "load", str(DATA / "mini.obo"), str(DATA / "mini-it.babelon.tsv"),
                   str(DATA / "mini-es.babelon.tsv"), str(DATA / "mini_wikidata.jsonl"), "--format", "json")
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout)
    assert {r["status"] for r in reports} == {"loaded"} and len(reports) == 4
    result = medkg(home, "kg", "query", "SELECT ?l WHERE { ?c rdfs:label ?l FILTER(LANG(?l) = 'it') } ORDER BY ?l",
                   "--format", "csv")
    assert list(csv.reader(io.StringIO(result.stdout))) == [["l"], ["Febbre"], ["Tosse"]]
    result = medkg(home, "kg", "saved", "concept-by-label", "text=tubercolosi", "lang=it", "--format", "json")
    bindings = json.loads(result.stdout)["results"]["bindings"]
    assert [b["concept"]["value"] for b in bindings] == ["http://www.wikidata.org/entity/Q12204"]
    result = medkg(home, "kg", "saved", "ancestors", "DOID:399", "--format", "tsv")
    assert "<http://purl.obolibrary.org/obo/DOID_0050117>" in result.stdout
    stats = json.loads(medkg(home, "kg", "stats", "--format", "json").stdout)
    assert stats["labels_per_language"]["it"] >= 3 and stats["labels_per_language"]["es"] >= 2
    assert stats["concepts"] >= 5
    table = medkg(home, "kg", "stats").stdout
    assert "labels @it" in table


def test_query_from_file_and_table_output(home, tmp_path):
    medkg(home, "--quiet", "kg", "load", str(DATA / "mini.obo"))
    query = tmp_path / "q.rq"
    query.write_text("SELECT ?c WHERE { ?c oboInOwl:hasDbXref 'UMLS:C0041296' }")
    result = medkg(home, "kg", "query", f"@{query}")
    assert "DOID:399" in result.stdout and "1 row(s)" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["kg", "query", "SELECT ?x WHERE { ?x ?p }"], "invalid SPARQL"),
    (["kg", "query", "@missing.rq"], "query file not found"),
    (["kg", "load", "no-such-file.obo"], "no such file"),
    (["kg", "saved", "concept-by-label"], "missing parameter 'text'"),
    (["kg", "saved", "nope"], "no saved query"),
    (["traces", "generate", "examples/mcq/relations_demo.jsonl", "--evidence", "retrieval"],
     "the path writer needs graph paths"),
    (["eval", "mcq", str(Path(__file__).parents[1] / "examples/mcq/relations_demo.jsonl"), "--part", "3/2"], "K must be between 1 and N"),
])
def test_user_errors_exit_2_without_traceback(home, args, message, capsys):
    code = run_main(home, *args)
    err = capsys.readouterr().err.replace("\n", " ")
    assert code == 2 and message in err and "Traceback" not in err


def test_error_message_names_file_and_line(home, tmp_path, capsys):
    bad = tmp_path / "broken.ttl"
    bad.write_text('<http://a> <http://b> "c" .\n<http://a> <http://b> .\n')
    code = run_main(home, "kg", "load", str(bad))
    err = capsys.readouterr().err.replace("\n", "")
    assert code == 2 and f"{bad}:2" in err and "Traceback" not in err


def test_settings_file_and_environment(home, tmp_path, monkeypatch):
    from medkg.config import load_settings
    from medkg.errors import MedkgError

    (tmp_path / "medkg.toml").write_text('[medkg]\nhome = "from-toml"\nquery_timeout = 5\n')
    assert str(load_settings().home) == "from-toml" and load_settings().query_timeout == 5
    monkeypatch.setenv("MEDKG_HOME", "from-env")
    assert str(load_settings().home) == "from-env"
    assert str(load_settings(home="from-flag").home) == "from-flag"
    (tmp_path / "medkg.toml").write_text('[medkg]\nhoem = "typo"\n')
    with pytest.raises(MedkgError, match="unknown setting 'hoem'"):
        load_settings()
