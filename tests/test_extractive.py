"""Extractive summaries without weights: central sentences, whole, in order, in budget."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

from polybrief.service.text.extractive import count_words, extract
from polybrief.service.text.segment import build_document

SEED = Path(__file__).resolve().parents[1] / "examples" / "afp-putin-hollande.txt"

TOPIC = [
    "The city council approved the new budget for public schools on Monday.",
    "My neighbour's cat likes to sleep on the warm roof in the afternoon.",
    "The budget gives public schools more money for teachers and books.",
    "Council members said the school budget was the largest in ten years.",
    "A rainbow appeared briefly over the harbour after the storm.",
    "Parents welcomed the council decision on the schools budget.",
]


def test_count_words() -> None:
    assert count_words("one two  three\nfour") == 4
    assert count_words("") == 0
    assert count_words("北京是中国的首都") == 4
    assert count_words("東京は日本の首都です") == 5
    assert count_words("안녕하세요 반갑습니다") == 2  # Korean is spaced


def test_picks_central_sentences_within_budget_in_original_order() -> None:
    chosen = extract(TOPIC, 25)
    assert chosen
    assert sum(count_words(s) for s in chosen) <= 25
    assert [TOPIC.index(s) for s in chosen] == sorted(TOPIC.index(s) for s in chosen)
    assert TOPIC[1] not in chosen
    assert TOPIC[4] not in chosen
    assert all("budget" in s for s in chosen)


def test_deterministic() -> None:
    assert extract(TOPIC, 30) == extract(list(TOPIC), 30)


def test_whole_sentences_and_at_least_one() -> None:
    chosen = extract(TOPIC, 1)
    assert len(chosen) == 1
    assert chosen[0] in TOPIC
    assert extract(["Only one sentence here."], 1) == ["Only one sentence here."]
    assert extract([], 50) == []
    assert extract(["", "  "], 50) == []


def test_large_budget_takes_everything_substantial() -> None:
    assert extract(TOPIC, 1000) == TOPIC


def test_seed_story_summary() -> None:
    document = build_document(SEED.read_text(encoding="utf-8"), "en")
    chosen = extract(document.sentences, 60)
    assert 1 <= len(chosen) < len(document.sentences)
    assert sum(count_words(s) for s in chosen) <= 60
    assert all(s in document.sentences for s in chosen)
    positions = [document.sentences.index(s) for s in chosen]
    assert positions == sorted(positions)  # in the story's order
    assert "AFP, Moscow :" not in chosen  # a dateline is not brief material
    assert any("Putin" in s for s in chosen)


def test_cjk_without_spaces() -> None:
    sentences = [
        "北京市政府周一批准了公立学校的新预算。",
        "我的猫喜欢在屋顶上睡觉。",
        "新预算为公立学校的教师和书籍提供更多资金。",
        "家长们欢迎政府关于学校预算的决定。",
    ]
    # 9, 6, 10 and 8 words: the two about the budget that fit 20 words, not the cat
    chosen = extract(sentences, 20)
    assert chosen == [sentences[0], sentences[2]]


def test_russian() -> None:
    sentences = [
        "Городской совет утвердил новый бюджет для школ в понедельник.",
        "Кошка соседа любит спать на тёплой крыше.",
        "Новый бюджет даёт школам больше денег на учителей.",
        "Родители приветствовали решение совета о бюджете школ.",
    ]
    chosen = extract(sentences, 18)
    assert sentences[1] not in chosen
    assert sum(count_words(s) for s in chosen) <= 18


def test_many_sentences_is_fast_enough() -> None:
    sentences = [
        f"Sentence number {i} talks about topic {i % 17} and item {i % 5}." for i in range(800)
    ]
    chosen = extract(sentences, 50)
    assert sum(count_words(s) for s in chosen) <= 50


def test_sentences_sharing_no_words_fall_back_to_the_lead() -> None:
    sentences = ["Alpha beta gamma delta.", "Epsilon zeta eta theta.", "Iota kappa lambda mu."]
    assert extract(sentences, 4) == [sentences[0]]


def test_thai_uses_character_bigrams() -> None:
    sentences = [
        "รัฐบาลอนุมัติงบประมาณใหม่สำหรับโรงเรียนรัฐ",
        "แมวของเพื่อนบ้านชอบนอนบนหลังคา",
        "งบประมาณใหม่ให้เงินโรงเรียนรัฐมากขึ้น",
        "ผู้ปกครองยินดีกับงบประมาณโรงเรียนใหม่",
    ]
    assert count_words(sentences[1]) == 13  # 26 letters; vowel and tone marks not counted
    chosen = extract(sentences, 40)
    assert sentences[1] not in chosen
    assert len(chosen) == 2


def _spread(count: int) -> list[str]:
    """``count`` 15-word sentences over a 5000-word vocabulary, few words shared."""
    vocabulary = [f"w{i}" for i in range(5000)]
    return [
        " ".join(vocabulary[(i * 7 + j * 13) % len(vocabulary)] for j in range(15)) + "."
        for i in range(count)
    ]


def test_thousands_of_sentences_need_no_dense_matrix() -> None:
    # A dense n x n similarity (and n x vocabulary TF-IDF) would take hundreds of MB here.
    sentences = _spread(2000)
    tracemalloc.start()
    try:
        chosen = extract(sentences, 45)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 1 <= len(chosen) <= 3
    assert peak < 64 * 2**20


def test_time_grows_about_linearly_with_the_sentences() -> None:
    # Four times the sentences: ~4x the time when the similarity is held sparse, ~16x for
    # a dense n x n matrix. The best of three runs each, so that a busy machine's pauses
    # do not count; a ratio, so that the machine's speed does not either.
    def best(sentences: list[str]) -> float:
        times = []
        for _ in range(3):
            began = time.perf_counter()
            extract(sentences, 45)
            times.append(time.perf_counter() - began)
        return min(times)

    small, large = _spread(500), _spread(2000)
    extract(small, 45)  # warm-up: imports and first-call costs
    assert best(large) < 10 * best(small)


def test_a_repeated_sentence_is_taken_once() -> None:
    # e.g. a model's partial summaries that loop on one phrase
    loop = "The council approved the school budget on Monday."
    sentences = [loop, loop.upper(), f"  {loop}  ", *TOPIC[2:4]]
    chosen = extract(sentences, 60)
    assert [s.casefold() for s in chosen].count(loop.casefold()) == 1
    assert TOPIC[2] in chosen
    assert TOPIC[3] in chosen
