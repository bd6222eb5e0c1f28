"""The engine's whole-output checks with a deterministic fake language detector on the
tiny models: a wrong-language output is redone on another route (or flagged), a copy of
the input is UNTRANSLATED, low confidence is flagged; and the review table itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from polybrief.service.domain import Detection, TranslateRequest, WarningCode
from polybrief.service.engine import Engine
from polybrief.service.quality.review import review
from polybrief.service.server.compose import build_engine
from polybrief.service.settings import Settings

TEXT = "The Kremlin said the two leaders agreed to cooperate at sea."


@pytest.fixture(scope="module")
def engine(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    settings = Settings(
        catalog=tiny_dir / "catalog.toml",
        ct2_cache=tmp_path_factory.mktemp("ct2"),
        cache_mb=0,
        quality_guards=True,
        low_confidence=0.0,
    )
    built = build_engine(settings)
    yield built
    built.close()


class Detector:
    """Says ``wrong`` for the first ``wrong_times`` outputs it sees, then ``right``."""

    def __init__(self, wrong: str, right: str, wrong_times: int) -> None:
        self.wrong, self.right, self.left = wrong, right, wrong_times
        self.seen: list[str] = []

    def __call__(self, text: str) -> Detection:
        self.seen.append(text)
        if self.left > 0:
            self.left -= 1
            return Detection(self.wrong, 0.99, True)
        return Detection(self.right, 0.99, True)


def translate(engine: Engine, detector: Detector, target: str = "fr") -> object:
    engine.detector = detector
    [result] = engine.translate(TranslateRequest((TEXT,), target, "en")).translations
    return result


def test_wrong_language_is_redone_on_another_route(engine: Engine) -> None:
    detector = Detector("de", "fr", wrong_times=1)
    result = translate(engine, detector)
    assert len(detector.seen) == 2  # the direct output, then the other route's
    assert result.route.kind.value == "multilingual"  # type: ignore[attr-defined]
    codes = [w.code for w in result.warnings]  # type: ignore[attr-defined]
    assert WarningCode.WRONG_LANGUAGE not in codes


def test_wrong_language_everywhere_keeps_the_first_route_and_says_so(engine: Engine) -> None:
    detector = Detector("de", "fr", wrong_times=10)
    result = translate(engine, detector)
    assert len(detector.seen) == 2  # one retry, not more
    assert result.route.kind.value == "direct"  # type: ignore[attr-defined]
    [warning] = [
        w
        for w in result.warnings  # type: ignore[attr-defined]
        if w.code is WarningCode.WRONG_LANGUAGE
    ]
    assert warning.detected_language == "de"
    assert warning.segment == -1


def test_guards_off_never_look_at_the_language(engine: Engine) -> None:
    engine.runner.guards = False
    try:
        detector = Detector("de", "fr", wrong_times=10)
        result = translate(engine, detector)
        assert detector.seen == []
        assert result.warnings == ()  # type: ignore[attr-defined]
    finally:
        engine.runner.guards = True


@pytest.mark.parametrize(
    ("output", "detected", "confidence", "terms", "codes"),
    [
        pytest.param("Le Kremlin a dit.", Detection("fr", 0.9, True), 0.8, (), [], id="clean"),
        pytest.param(
            "The Kremlin said.", Detection("en", 0.9, True), 0.8, (),
            [WarningCode.WRONG_LANGUAGE], id="wrong-language",
        ),
        pytest.param(
            "Kremlin", Detection("en", 0.2, False), 0.8, (), [], id="too-short-to-judge",
        ),
        pytest.param(
            TEXT, Detection("fr", 0.9, True), 0.8, (), [WarningCode.UNTRANSLATED], id="copy",
        ),
        pytest.param(
            "Le Kremlin a dit.", None, 0.05, (), [WarningCode.LOW_CONFIDENCE], id="low-confidence",
        ),
        pytest.param(
            "Le Kremlin a dit.", None, 0.8, ("Charles de Gaulle",),
            [WarningCode.TERM_NOT_APPLIED], id="term-missing",
        ),
    ],
)  # fmt: skip
def test_review_table(
    output: str,
    detected: Detection | None,
    confidence: float,
    terms: tuple[str, ...],
    codes: list[WarningCode],
) -> None:
    warnings = review(
        TEXT,
        output,
        source_language="en",
        target_language="fr",
        confidence=confidence,
        detected=detected,
        low_confidence=0.2,
        expected_terms=terms,
    )
    assert [w.code for w in warnings] == codes
    assert all(w.segment == -1 for w in warnings)
