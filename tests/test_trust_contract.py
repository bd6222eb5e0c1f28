"""The contract of issue 9's trust fields and its plumbing, independent of the engine's
guards: glossaries from the client (library and CLI) through validation into the engine's
request, and confidence, warnings and applied terms from the engine's results back to
the client's types and the CLI's rendering.

Conversion is unit-tested both ways (domain ↔ proto ↔ client); validation against the
limits of the default settings; the rest against the real tiny server."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from polybrief.cli import _render
from polybrief.cli._app import app
from polybrief.client import (
    WARNING_CODES,
    AsyncClient,
    Brief,
    Client,
    GlossaryTerm,
    InvalidArgumentError,
    ItemError,
    PipelineReport,
    QualityWarning,
    Route,
    Step,
    SummarizeResult,
    Translation,
    parse_glossary,
)
from polybrief.client import _convert as client_convert
from polybrief.client._glossary import glossary_terms
from polybrief.service import domain as d
from polybrief.service.api import convert
from polybrief.service.errors import InvalidRequest
from polybrief.service.server.compose import limits as limits_of
from polybrief.service.settings import Settings
from polybrief.service.validation import validate_summarize, validate_translate
from polybrief.v1 import polybrief_pb2 as pb
from rich.console import Console
from server_harness import ServerThread
from typer.testing import CliRunner

TEXT = "General Charles de Gaulle inspected the navy at Toulon on Tuesday morning."
LIMITS = limits_of(Settings())
DE_GAULLE = d.GlossaryTerm("Charles de Gaulle")
NAVY = d.GlossaryTerm("navy", "marine")


def _route() -> d.Route:
    step = d.Step(d.StepKind.TRANSLATE, "tiny-marian-en-fr", "en", "fr", 2)
    return d.Route(d.RouteKind.DIRECT, (step,))


WARNINGS = (
    d.QualityWarning(d.WarningCode.REPETITION, "'la la' repeats 40 times", 1),
    d.QualityWarning(d.WarningCode.WRONG_LANGUAGE, "the output is not French", -1, "en"),
)


# ------------------------------------------------------------------ the contract itself


def test_warning_codes_are_the_same_on_both_sides() -> None:
    assert set(WARNING_CODES) == {code.value for code in d.WarningCode}


def test_limits_report_the_glossary_limits(client: Client) -> None:
    limits = client.capabilities().limits
    assert limits.max_glossary_terms == Settings().max_glossary_terms
    assert limits.max_glossary_term_characters == Settings().max_glossary_term_characters


# ------------------------------------------------------------ service: proto ↔ domain


@pytest.mark.parametrize(
    "to_domain",
    [
        lambda **f: convert.translate_request(
            pb.TranslateRequest(texts=[TEXT], target_language="fr", **f)
        ),
        lambda **f: convert.summarize_request(pb.SummarizeRequest(text=TEXT, **f)),
    ],
    ids=["translate", "summarize"],
)
def test_request_glossary_reaches_the_domain(to_domain: Callable[..., Any]) -> None:
    terms = [
        pb.GlossaryTerm(source="Charles de Gaulle"),
        pb.GlossaryTerm(source="navy", target="marine"),
    ]
    request = to_domain(glossary=terms, glossary_ignore_case=True)
    assert request.glossary == (DE_GAULLE, NAVY)
    assert request.glossary_ignore_case is True
    assert to_domain().glossary == ()
    assert to_domain().glossary_ignore_case is False


def _proto_warnings(msg: pb.Translation | pb.Brief) -> list[tuple[str, str, int, str]]:
    return [(w.code, w.message, w.segment, w.detected_language) for w in msg.warnings]


EXPECTED_WARNINGS = [
    ("REPETITION", "'la la' repeats 40 times", 1, ""),
    ("WRONG_LANGUAGE", "the output is not French", -1, "en"),
]


def test_translation_trust_fields_reach_the_proto() -> None:
    value = d.Translation(
        "Charles de Gaulle a inspecté la marine.",
        "en",
        _route(),
        confidence=0.625,
        warnings=WARNINGS,
        applied_terms=("Charles de Gaulle", "marine"),
    )
    msg = convert.translate_response(d.TranslateResult((value,), "fr")).translations[0]
    assert msg.confidence == 0.625
    assert _proto_warnings(msg) == EXPECTED_WARNINGS
    assert list(msg.applied_terms) == ["Charles de Gaulle", "marine"]


def test_brief_trust_fields_reach_the_proto() -> None:
    brief = d.Brief(
        "fr",
        "De Gaulle.",
        d.Mode.ABSTRACTIVE,
        _route(),
        confidence=0.25,
        warnings=WARNINGS[:1],
        applied_terms=("Charles de Gaulle",),
    )
    result = d.SummarizeResult((brief,), "en", None, d.PipelineReport())
    msg = convert.summarize_response(result).briefs[0]
    assert msg.confidence == 0.25
    assert _proto_warnings(msg) == EXPECTED_WARNINGS[:1]
    assert list(msg.applied_terms) == ["Charles de Gaulle"]


@pytest.mark.parametrize("code", list(d.WarningCode))
def test_every_warning_code_travels_by_its_value(code: d.WarningCode) -> None:
    value = d.Translation("x", "en", _route(), warnings=(d.QualityWarning(code, "m"),))
    msg = convert.translate_response(d.TranslateResult((value,), "fr"))
    reply = pb.TranslateResponse.FromString(msg.SerializeToString())
    (warning,) = client_convert.translate_result(reply)[0].warnings
    assert warning == QualityWarning(code.value, "m", -1, "")


# ------------------------------------------------- domain → proto → bytes → client


def _through_the_wire(result: d.TranslateResult) -> list[Translation]:
    data = convert.translate_response(result).SerializeToString()
    return client_convert.translate_result(pb.TranslateResponse.FromString(data))


def test_translation_round_trip_to_the_client_types() -> None:
    value = d.Translation(
        "la marine", "en", _route(), confidence=0.5, warnings=WARNINGS, applied_terms=("marine",)
    )
    (got,) = _through_the_wire(d.TranslateResult((value,), "fr"))
    assert got.confidence == 0.5
    assert got.warnings == (
        QualityWarning("REPETITION", "'la la' repeats 40 times", 1, ""),
        QualityWarning("WRONG_LANGUAGE", "the output is not French", -1, "en"),
    )
    assert got.applied_terms == ("marine",)
    assert all(isinstance(w, QualityWarning) for w in got.warnings)


def test_brief_round_trip_to_the_client_types() -> None:
    brief = d.Brief(
        "en", "Lead.", d.Mode.EXTRACTIVE, d.Route(d.RouteKind.IDENTITY), confidence=1.0,
        warnings=WARNINGS[1:], applied_terms=("Charles de Gaulle",),
    )  # fmt: skip
    result = d.SummarizeResult((brief,), "en", None, d.PipelineReport())
    data = convert.summarize_response(result).SerializeToString()
    (got,) = client_convert.summarize_result(pb.SummarizeResponse.FromString(data)).briefs
    assert got.mode == "extractive"
    assert got.confidence == 1.0
    assert got.warnings == (QualityWarning("WRONG_LANGUAGE", "the output is not French", -1, "en"),)
    assert got.applied_terms == ("Charles de Gaulle",)


def test_an_older_server_reads_as_no_confidence_and_no_warnings() -> None:
    (got,) = client_convert.translate_result(
        pb.TranslateResponse(translations=[pb.Translation(text="x")])
    )
    assert (got.confidence, got.warnings, got.applied_terms) == (0.0, (), ())


# ------------------------------------------------------------ client: the glossary argument


@pytest.mark.parametrize(
    "glossary",
    [
        {"Charles de Gaulle": "", "navy": "marine"},
        [("Charles de Gaulle", ""), ("navy", "marine")],
        [GlossaryTerm("Charles de Gaulle"), GlossaryTerm("navy", "marine")],
        (term for term in [GlossaryTerm("Charles de Gaulle"), ("navy", "marine")]),
    ],
    ids=["mapping", "pairs", "terms", "iterator"],
)
def test_glossary_forms_build_the_same_request(glossary: Any) -> None:
    request = client_convert.translate_request(TEXT, "fr", None, None)
    client_convert.add_glossary(request, glossary, True)
    assert [(t.source, t.target) for t in request.glossary] == [
        ("Charles de Gaulle", ""),
        ("navy", "marine"),
    ]
    assert request.glossary_ignore_case is True


def test_glossary_on_summarize_requests() -> None:
    request = client_convert.summarize_request(TEXT, ["fr"], None, None, "abstractive", None, None)
    client_convert.add_glossary(request, {"navy": "marine"}, False)
    assert [(t.source, t.target) for t in request.glossary] == [("navy", "marine")]
    assert not request.glossary_ignore_case
    assert not client_convert.summarize_request(
        TEXT, [], None, None, "extractive", None, None
    ).glossary


@pytest.mark.parametrize(
    "glossary",
    ["Charles de Gaulle", ["Charles de Gaulle"], [("a", "b", "c")], [("a", 1)], {"a": None}],
    ids=["string", "list-of-strings", "triple", "non-string-target", "none-target"],
)
def test_malformed_glossaries_are_type_errors(glossary: Any) -> None:
    with pytest.raises(TypeError, match="glossary"):
        glossary_terms(glossary)


def test_duplicates_are_left_for_the_server_to_report() -> None:
    assert glossary_terms([("navy", "marine"), ("navy", "flotte")]) == [
        GlossaryTerm("navy", "marine"),
        GlossaryTerm("navy", "flotte"),
    ]


# ------------------------------------------------------------ the glossary file of the CLI


def test_glossary_file_formats() -> None:
    text = (
        "Charles de Gaulle\n"  # no target: do not translate
        "navy\tmarine\n"  # TSV
        "\n   \n"  # blank lines are skipped
        " Putin = Poutine \n"  # source=target, spaces dropped
        "E=mc2\tE=mc2\n"  # a tab separates even when there is an '='
        "Raqa=\n"  # empty target: keep as is
        "Toulon\t\n"
    )
    assert parse_glossary(text) == [
        GlossaryTerm("Charles de Gaulle", ""),
        GlossaryTerm("navy", "marine"),
        GlossaryTerm("Putin", "Poutine"),
        GlossaryTerm("E=mc2", "E=mc2"),
        GlossaryTerm("Raqa", ""),
        GlossaryTerm("Toulon", ""),
    ]


@pytest.mark.parametrize("line", ["=marine", "\tmarine", "  = x"])
def test_glossary_file_line_without_source(line: str) -> None:
    with pytest.raises(ValueError, match="line 2: no source term"):
        parse_glossary(f"navy=marine\n{line}\n")


# ------------------------------------------------------------------------ validation


def _limits(**changes: int) -> d.Limits:
    return dataclasses.replace(LIMITS, **changes)


def _translate(glossary: list[d.GlossaryTerm], ignore_case: bool = False) -> d.TranslateRequest:
    terms = tuple(glossary)
    return d.TranslateRequest((TEXT,), "fr", glossary=terms, glossary_ignore_case=ignore_case)


def _violations(request: d.TranslateRequest, limits: d.Limits = LIMITS) -> list[str]:
    with pytest.raises(InvalidRequest) as err:
        validate_translate(request, limits)
    return [v.field for v in err.value.violations]


def test_validated_requests_carry_the_cleaned_glossary() -> None:
    dirty = [
        d.GlossaryTerm(" Charles\x00 de\u202e Gaulle\n"),
        d.GlossaryTerm("na\u200bvy", "mar\x07ine "),
    ]
    translate = validate_translate(_translate(dirty, ignore_case=True), LIMITS)
    assert translate.glossary == (DE_GAULLE, NAVY)
    assert translate.glossary_ignore_case is True
    summarize = validate_summarize(
        d.SummarizeRequest(TEXT, glossary=tuple(dirty), glossary_ignore_case=False), LIMITS
    )
    assert summarize.glossary == (DE_GAULLE, NAVY)
    assert summarize.glossary_ignore_case is False


LONG = "x" * (LIMITS.max_glossary_term_characters + 1)
BAD_GLOSSARIES = {
    "too-many": ([d.GlossaryTerm(f"t{i}") for i in range(4)], False, ("glossary",)),
    "empty-source": ([NAVY, d.GlossaryTerm("", "x")], False, ("glossary[1].source",)),
    "whitespace-source": ([d.GlossaryTerm(" \t\n", "x")], False, ("glossary[0].source",)),
    "controls-only-source": ([d.GlossaryTerm("\x00\u202e")], False, ("glossary[0].source",)),
    "duplicate": ([NAVY, DE_GAULLE, d.GlossaryTerm("navy", "x")], False, ("glossary[2].source",)),
    "cleaned-duplicate": ([NAVY, d.GlossaryTerm(" na\x00vy")], False, ("glossary[1].source",)),
    "duplicate-ignoring-case": ([NAVY, d.GlossaryTerm("Navy")], True, ("glossary[1].source",)),
    "long-source": ([d.GlossaryTerm(LONG)], False, ("glossary[0].source",)),
    "long-target": ([d.GlossaryTerm("navy", LONG)], False, ("glossary[0].target",)),
    "everything": (
        [d.GlossaryTerm(LONG, LONG), d.GlossaryTerm(""), d.GlossaryTerm(LONG + "y")],
        False,
        ("glossary[0].source", "glossary[0].target", "glossary[1].source", "glossary[2].source"),
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("terms", "ignore_case", "fields"), list(BAD_GLOSSARIES.values()), ids=list(BAD_GLOSSARIES)
)
def test_bad_glossaries_name_the_field(
    terms: list[d.GlossaryTerm], ignore_case: bool, fields: tuple[str, ...]
) -> None:
    limits = _limits(max_glossary_terms=3)
    assert tuple(_violations(_translate(terms, ignore_case), limits)) == fields
    summarize = d.SummarizeRequest(TEXT, glossary=tuple(terms), glossary_ignore_case=ignore_case)
    with pytest.raises(InvalidRequest) as err:
        validate_summarize(summarize, limits)
    assert tuple(v.field for v in err.value.violations) == fields


def test_case_differences_are_distinct_terms_by_default() -> None:
    request = validate_translate(_translate([NAVY, d.GlossaryTerm("Navy")]), LIMITS)
    assert len(request.glossary) == 2


def test_duplicate_names_the_first_occurrence() -> None:
    with pytest.raises(InvalidRequest) as err:
        validate_translate(_translate([DE_GAULLE, NAVY, d.GlossaryTerm("NAVY")], True), LIMITS)
    (violation,) = err.value.violations
    assert violation.field == "glossary[2].source"
    assert "glossary[1]" in violation.description


def test_a_term_longer_than_one_item_is_refused() -> None:
    limits = _limits(max_item_characters=10, max_glossary_term_characters=50)
    request = d.TranslateRequest(("short",), "fr", glossary=(d.GlossaryTerm("a" * 11),))
    fields = _violations(request, limits)
    assert fields == ["glossary[0].source"]


def test_the_term_limit_counts_cleaned_characters() -> None:
    at_limit = "y" * LIMITS.max_glossary_term_characters
    request = validate_translate(_translate([d.GlossaryTerm(at_limit + "\x00\x00 ")]), LIMITS)
    assert request.glossary == (d.GlossaryTerm(at_limit),)


# ----------------------------------------------------------------- the real server


def _fields(err: pytest.ExceptionInfo[InvalidArgumentError]) -> list[str]:
    return [field for field, _ in err.value.field_violations]


def _server_cases(limit: int, chars: int) -> dict[str, tuple[Any, bool, list[str]]]:
    return {
        "too-many": ([(f"term {i}", "") for i in range(limit + 1)], False, ["glossary"]),
        "empty-source": ([("navy", "marine"), ("  ", "x")], False, ["glossary[1].source"]),
        "duplicate": ([("navy", "marine"), ("navy", "flotte")], False, ["glossary[1].source"]),
        "duplicate-ignoring-case": ([("navy", ""), ("NAVY", "")], True, ["glossary[1].source"]),
        "term-over-the-limit": ([("navy", "m" * (chars + 1))], False, ["glossary[0].target"]),
    }


DEFAULTS = Settings()
SERVER_CASES = _server_cases(DEFAULTS.max_glossary_terms, DEFAULTS.max_glossary_term_characters)


@pytest.mark.parametrize(
    ("glossary", "ignore_case", "fields"), list(SERVER_CASES.values()), ids=list(SERVER_CASES)
)
def test_server_refuses_bad_glossaries(
    client: Client, glossary: Any, ignore_case: bool, fields: list[str]
) -> None:
    with pytest.raises(InvalidArgumentError) as err:
        client.translate(
            TEXT, to="fr", source="en", glossary=glossary, glossary_ignore_case=ignore_case
        )
    assert _fields(err) == fields
    with pytest.raises(InvalidArgumentError) as err:
        client.summarize(TEXT, to=["fr"], glossary=glossary, glossary_ignore_case=ignore_case)
    assert _fields(err) == fields


def test_async_client_sends_the_glossary(server_address: str) -> None:
    async def main() -> list[str]:
        async with AsyncClient(server_address, timeout=60) as client:
            with pytest.raises(InvalidArgumentError) as err:
                await client.translate(TEXT, to="fr", glossary=[("a", ""), ("a", "b")])
            with pytest.raises(InvalidArgumentError) as err2:
                await client.summarize(TEXT, glossary={"": "b"})
            return _fields(err) + _fields(err2)

    assert asyncio.run(main()) == ["glossary[1].source", "glossary[0].source"]


def _record(monkeypatch: pytest.MonkeyPatch, server: ServerThread, method: str) -> list[Any]:
    """Records the domain requests the servicer hands the engine's ``method`` (which then
    runs unchanged)."""
    seen: list[Any] = []
    original = getattr(server.engine, method)

    def recorded(request: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(request)
        return original(request, *args, **kwargs)

    monkeypatch.setattr(server.engine, method, recorded)
    return seen


def test_translate_glossary_reaches_the_engine(
    client: Client, tiny_server: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _record(monkeypatch, tiny_server, "translate")
    results = client.translate(
        [TEXT, "Nothing to keep here."],
        to="fr",
        source="en",
        glossary={"Charles de Gaulle": "", "navy": "marine"},
        glossary_ignore_case=True,
    )
    (request,) = seen
    assert request.glossary == (DE_GAULLE, NAVY)
    assert request.glossary_ignore_case is True
    assert len(results) == 2
    for result in results:
        assert result.error is None
        _assert_trust_fields(result)


def test_summarize_glossary_reaches_the_engine(
    client: Client, tiny_server: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _record(monkeypatch, tiny_server, "summarize")
    glossary = [GlossaryTerm("navy", "marine")]
    result = client.summarize(TEXT, to=["en", "fr"], source="en", glossary=glossary)
    (request,) = seen
    assert request.glossary == (NAVY,)
    assert request.glossary_ignore_case is False
    assert [b.language for b in result.briefs] == ["en", "fr"]
    for brief in result.briefs:
        _assert_trust_fields(brief)


def _assert_trust_fields(item: Brief | Translation) -> None:
    """The new fields are there with the contract's types and ranges (whatever values
    the engine gives them)."""
    assert isinstance(item.confidence, float)
    assert 0.0 <= item.confidence <= 1.0
    assert isinstance(item.warnings, tuple)
    for warning in item.warnings:
        assert isinstance(warning, QualityWarning)
        assert warning.code
        assert warning.message
        assert warning.segment >= -1
    assert all(isinstance(term, str) and term for term in item.applied_terms)


# ----------------------------------------------------------------------------- CLI


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "400"})


def test_cli_sends_the_glossary_file(
    server_address: str, tiny_server: ServerThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    file = tmp_path / "glossary.tsv"
    file.write_text("Charles de Gaulle\nnavy\tmarine\n", encoding="utf-8")
    seen = _record(monkeypatch, tiny_server, "translate")
    done = _cli(
        "translate", TEXT, "--to", "fr", "--from", "en", "--glossary", str(file),
        "--glossary-ignore-case", "--json", "--server", server_address,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert seen[0].glossary == (DE_GAULLE, NAVY)
    assert seen[0].glossary_ignore_case is True
    (item,) = json.loads(done.stdout)
    assert isinstance(item["confidence"], float)
    assert isinstance(item["warnings"], list)
    assert isinstance(item["applied_terms"], list)


@pytest.mark.parametrize("command", ["brief", "summarize"])
def test_cli_summary_commands_send_the_glossary(
    server_address: str,
    tiny_server: ServerThread,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: str,
) -> None:
    (tmp_path / "article.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "terms.txt").write_text("navy=marine\n", encoding="utf-8")
    seen = _record(monkeypatch, tiny_server, "stream_summarize")
    done = _cli(
        command, str(tmp_path / "article.txt"), "--to", "fr", "--from", "en",
        "--glossary", str(tmp_path / "terms.txt"), "--server", server_address,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert seen[0].glossary == (NAVY,)
    assert seen[0].glossary_ignore_case is False
    assert "confidence " in done.stdout


def test_cli_reports_the_glossary_field(server_address: str, tmp_path: Path) -> None:
    file = tmp_path / "glossary.txt"
    file.write_text("navy=marine\nnavy=flotte\n", encoding="utf-8")
    done = _cli(
        "translate", TEXT, "--to", "fr", "--glossary", str(file), "--server", server_address
    )
    assert done.exit_code == 1, done.output
    assert "InvalidArgumentError" in done.stderr
    assert "  glossary[1].source: duplicate of glossary[0]" in done.stderr


def test_cli_bad_glossary_file_is_bad_usage(tmp_path: Path) -> None:
    file = tmp_path / "glossary.txt"
    file.write_text("navy=marine\n=flotte\n", encoding="utf-8")
    done = _cli("translate", TEXT, "--to", "fr", "--glossary", str(file), "--server", "127.0.0.1:9")
    assert done.exit_code == 2, done.output
    assert "line 2: no source term" in done.stderr
    missing = _cli("translate", TEXT, "--to", "fr", "--glossary", str(tmp_path / "none.txt"))
    assert missing.exit_code == 2
    assert "cannot read" in missing.stderr


def test_glossary_options_are_documented() -> None:
    for command in ("translate", "brief", "summarize"):
        text = " ".join(_cli(command, "--help").stdout.split())
        assert "--glossary FILE" in text
        assert "source<TAB>target (TSV) or source=target" in text
        assert "--glossary-ignore-case" in text


# ------------------------------------------------------------------------- rendering


def _console() -> Console:
    return Console(record=True, width=200, color_system=None)


EXTRACT = Route("identity", (Step("extract", "", "en", "en", 1),), "")
CLIENT_WARNINGS = (
    QualityWarning("REPETITION", "'la la' repeats 40 times", 1, ""),
    QualityWarning("WRONG_LANGUAGE", "the output is not French", -1, "en"),
)


def test_rendering_shows_confidence_and_warnings_of_briefs() -> None:
    result = SummarizeResult(
        briefs=(
            Brief("fr", "la la la", "abstractive", "", EXTRACT, None, confidence=0.125,
                  warnings=CLIENT_WARNINGS, applied_terms=("Charles de Gaulle", "marine")),
            Brief("ru", "", "abstractive", "", Route("", (), ""),
                  ItemError("MODEL_NOT_INSTALLED", "not installed", "m", "")),
        ),
        source_language="en",
        detected_language=None,
        pipeline=PipelineReport(10, 0, 1, 0, 0, 1, 1, 1),
    )  # fmt: skip
    console = _console()
    _render.briefs(console, result)
    text = console.export_text()
    assert "confidence 0.12 · terms kept: Charles de Gaulle, marine" in text
    assert "⚠ REPETITION (segment 1): 'la la' repeats 40 times" in text
    assert "⚠ WRONG_LANGUAGE (looks like en): the output is not French" in text
    assert text.count("confidence ") == 1  # the failed brief shows its error only
    brief = json.loads(_render.as_json(result))["briefs"][0]
    assert brief["confidence"] == 0.125
    assert brief["applied_terms"] == ["Charles de Gaulle", "marine"]
    assert brief["warnings"][1] == {
        "code": "WRONG_LANGUAGE",
        "message": "the output is not French",
        "segment": -1,
        "detected_language": "en",
    }


def test_rendering_shows_confidence_and_warnings_of_translations() -> None:
    items = [
        Translation(
            "la marine", "en", None, EXTRACT, None, confidence=0.875, warnings=CLIENT_WARNINGS[:1]
        ),
        Translation("ok", "en", None, EXTRACT, None, confidence=1.0),
    ]
    console = _console()
    _render.translations(console, items)
    lines = console.export_text().splitlines()
    assert lines[1:4] == [
        "la marine",
        "confidence 0.88",
        "⚠ REPETITION (segment 1): 'la la' repeats 40 times",
    ]
    assert lines[5:] == ["ok", "confidence 1.00"]
    assert json.loads(_render.as_json(items))[1]["warnings"] == []
