"""The text encoder: same numbers as scikit-learn, saved without pickle, and useful."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from api.scout.encoder import TextEncoder, fit_text_encoder, item_text, ngrams
from pipelines.generate_interactions import GeneratorConfig, generate

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def catalogue() -> tuple[list[str], list[str], TextEncoder]:
    items = generate(GeneratorConfig(items=600, users=10, seed=5)).items
    texts = [
        item_text(t, d)
        for t, d in zip(items["title"], items["description"], strict=True)
    ]
    return texts, list(items["category"]), fit_text_encoder(texts, dims=64)


def test_tfidf_matches_scikit_learn(
    catalogue: tuple[list[str], list[str], TextEncoder],
) -> None:
    texts, _, encoder = catalogue
    reference = TfidfVectorizer(analyzer=ngrams, min_df=2, sublinear_tf=True)
    expected = reference.fit_transform(texts)
    order = [reference.vocabulary_[term] for term in sorted(encoder.vocabulary)]
    ours = encoder.tfidf(texts)[
        :, [encoder.vocabulary[t] for t in sorted(encoder.vocabulary)]
    ]

    np.testing.assert_allclose(ours.toarray(), expected[:, order].toarray(), atol=1e-9)


def test_save_and_load_give_the_same_vectors(
    catalogue: tuple[list[str], list[str], TextEncoder], tmp_path: Path
) -> None:
    texts, _, encoder = catalogue
    encoder.save(tmp_path)

    loaded = TextEncoder.load(tmp_path)

    np.testing.assert_allclose(loaded.encode(texts[:20]), encoder.encode(texts[:20]))
    assert not list(tmp_path.glob("*.pkl"))


@pytest.mark.parametrize(
    ("query", "category"),
    [
        ("waterproof hiking boots", "outdoor"),
        ("vitamin c serum for dry skin", "beauty"),
        ("cast iron skillet", "kitchen"),
        ("detective thriller", "books"),
    ],
)
def test_queries_find_their_category(
    catalogue: tuple[list[str], list[str], TextEncoder], query: str, category: str
) -> None:
    texts, categories, encoder = catalogue
    vectors = encoder.encode(texts)

    top = np.argsort(-(vectors @ encoder.encode([query])[0]))[:5]

    assert [categories[i] for i in top] == [category] * 5


def test_a_synonym_finds_items_that_never_use_the_word_in_their_title(
    catalogue: tuple[list[str], list[str], TextEncoder],
) -> None:
    texts, _, encoder = catalogue
    vectors = encoder.encode(texts)

    top = np.argsort(-(vectors @ encoder.encode(["headset"])[0]))[:5]
    titles = [texts[i].split(".")[0].lower() for i in top]

    assert any("headset" not in title for title in titles)
    assert all("headphones" in title or "headset" in title for title in titles)


def test_unknown_words_encode_to_zero(
    catalogue: tuple[list[str], list[str], TextEncoder],
) -> None:
    _, _, encoder = catalogue

    assert encoder.known_terms("zzyzx qwxv") == []
    assert not np.any(encoder.encode(["zzyzx qwxv"]))
