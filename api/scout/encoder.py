"""The offline text encoder for semantic search: TF-IDF followed by LSA.

Fitted on the catalogue (word 1- and 2-grams, sublinear TF, IDF, then a truncated
SVD), saved as plain arrays (no pickle), and applied here with numpy alone, so the
service needs no model download and no torch. Words that never occur in the
catalogue carry no meaning for it: a query made only of such words encodes to zero.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

TOKEN = re.compile(r"(?u)\b\w\w+\b")
ARRAYS_FILE = "text_encoder.npz"
VOCABULARY_FILE = "text_encoder_vocabulary.json"


def item_text(title: str, description: str) -> str:
    """The text an item is indexed by: the title counts twice."""
    return f"{title}. {title}. {description}"


def ngrams(text: str) -> list[str]:
    """Lower-cased word unigrams and bigrams (tokens of two or more characters),
    plurals folded crudely ("boots" -> "boot") so that number does not matter."""
    words = [_singular(word) for word in TOKEN.findall(text.lower())]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@dataclass(frozen=True)
class TextEncoder:
    """Maps text to a unit vector; similar wording gives a high cosine."""

    vocabulary: dict[str, int]
    idf: np.ndarray  # (terms,)
    components: np.ndarray  # (dims, terms)

    @property
    def dims(self) -> int:
        return int(self.components.shape[0])

    def known_terms(self, text: str) -> list[str]:
        return [term for term in ngrams(text) if term in self.vocabulary]

    def tfidf(self, texts: list[str]) -> sparse.csr_matrix:
        rows, cols, values = [], [], []
        for row, text in enumerate(texts):
            counts: dict[int, int] = {}
            for term in ngrams(text):
                column = self.vocabulary.get(term)
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
            for column, count in counts.items():
                rows.append(row)
                cols.append(column)
                values.append((1.0 + np.log(count)) * self.idf[column])
        shape = (len(texts), len(self.vocabulary))
        matrix = sparse.csr_matrix((values, (rows, cols)), shape=shape)
        return _normalize_rows_sparse(matrix)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors (float32), one row per text; all zeros if no word is known."""
        if len(texts) > 8:
            projected = self.tfidf(texts) @ self.components.T
            return normalize_rows(np.asarray(projected, dtype=np.float32))
        # A query or two: skip building a sparse matrix (about 1 ms each).
        rows = np.zeros((len(texts), self.dims), dtype=np.float32)
        for row, text in enumerate(texts):
            counts: dict[int, int] = {}
            for term in ngrams(text):
                column = self.vocabulary.get(term)
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
            if not counts:
                continue
            columns = np.fromiter(counts, dtype=np.int64, count=len(counts))
            tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64))
            weights = tf * self.idf[columns]
            weights /= np.linalg.norm(weights)
            rows[row] = self.components[:, columns] @ weights.astype(np.float32)
        return normalize_rows(rows)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            folder / ARRAYS_FILE, idf=self.idf, components=self.components
        )
        (folder / VOCABULARY_FILE).write_text(json.dumps(self.vocabulary))

    @classmethod
    def load(cls, folder: Path) -> TextEncoder:
        with np.load(folder / ARRAYS_FILE) as arrays:
            idf = arrays["idf"].astype(np.float64)
            components = arrays["components"].astype(np.float32)
        vocabulary = json.loads((folder / VOCABULARY_FILE).read_text())
        if components.shape[1] != len(vocabulary) or idf.shape[0] != len(vocabulary):
            raise ValueError(
                f"text encoder in {folder} is inconsistent: {len(vocabulary)} terms, "
                f"idf {idf.shape}, components {components.shape}"
            )
        return cls(vocabulary=vocabulary, idf=idf, components=components)


def fit_text_encoder(texts: list[str], dims: int = 96, seed: int = 0) -> TextEncoder:
    """Fit TF-IDF (terms in at least two texts) and an LSA projection."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        analyzer=ngrams, min_df=2, sublinear_tf=True, dtype=np.float64
    )
    matrix = vectorizer.fit_transform(texts)
    dims = min(dims, matrix.shape[1] - 1, len(texts) - 1)
    svd = TruncatedSVD(n_components=dims, random_state=seed).fit(matrix)
    vocabulary = {term: int(i) for term, i in vectorizer.vocabulary_.items()}
    return TextEncoder(
        vocabulary=vocabulary,
        idf=vectorizer.idf_.astype(np.float64),
        components=svd.components_.astype(np.float32),
    )


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def _normalize_rows_sparse(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1))).ravel()
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sparse.csr_matrix(sparse.diags(scale) @ matrix)
