"""The Scout model as one folder of files, and its in-memory form for serving.

Training writes the folder (logged to MLflow as the registered model's artifacts);
the service loads it at start-up and keeps items, vectors and histories in memory,
so the hot path touches Qdrant only for the nearest-neighbour query itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from api.scout.encoder import TextEncoder, normalize_rows

MODEL_FILE = "model.json"
ITEMS_FILE = "items.parquet"
VECTORS_FILE = "item_vectors.npz"
INTERACTIONS_FILE = "interactions.parquet"
COLLAB = "collab"
TEXT = "text"
EVENT_WEIGHTS = {"view": 1.0, "click": 2.0, "purchase": 4.0}
ITEM_COLUMNS = (
    "item_id",
    "title",
    "description",
    "category",
    "brand",
    "price",
    "currency",
)
INTERACTION_COLUMNS = ("user_id", "item_id", "event", "ts")


def history_weights(interactions: pd.DataFrame) -> pd.DataFrame:
    """Per (user, item): log(1 + summed event weights), event counts, last ts."""
    event = interactions["event"]
    frame = interactions.assign(
        weight=event.map(EVENT_WEIGHTS).astype(float),
        views=(event == "view").astype(np.int64),
        clicks=(event == "click").astype(np.int64),
        purchases=(event == "purchase").astype(np.int64),
    )
    grouped = frame.groupby(["user_id", "item_id"], sort=False)
    summary = grouped.agg(
        weight=("weight", "sum"),
        last_ts=("ts", "max"),
        views=("views", "sum"),
        clicks=("clicks", "sum"),
        purchases=("purchases", "sum"),
    ).reset_index()
    summary["weight"] = np.log1p(summary["weight"])
    return summary


@dataclass(frozen=True)
class UserHistory:
    """A user's items (catalogue positions) with weights and event counts."""

    items: np.ndarray  # int positions, most recent first
    weights: np.ndarray
    views: np.ndarray
    clicks: np.ndarray
    purchases: np.ndarray
    last_ts: list[str]


@dataclass
class ScoutModel:
    """Everything the service needs to answer, held in memory."""

    item_ids: np.ndarray
    items: pd.DataFrame  # ITEM_COLUMNS + popularity, row i = catalogue position i
    collab: np.ndarray  # raw item vectors (float32), compared by dot product
    text: np.ndarray  # unit rows (float32)
    encoder: TextEncoder
    histories: dict[str, UserHistory]
    meta: dict[str, Any]
    version: dict[str, str] = field(default_factory=dict)
    index_of: dict[str, int] = field(init=False)
    popular_order: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.index_of = {str(item): i for i, item in enumerate(self.item_ids)}
        popularity = self.items["popularity"].to_numpy()
        self.popular_order = np.argsort(-popularity, kind="stable")
        self.categories = self.items["category"].to_numpy()
        self.prices = self.items["price"].to_numpy(dtype=float)
        # Plain Python rows: building responses must not touch pandas per item.
        columns = {
            name: self.items[name].tolist()
            for name in ("item_id", "title", "category", "brand", "currency")
        }
        price_list = self.items["price"].astype(float).tolist()
        popularity_list = self.items["popularity"].astype(int).tolist()
        self.records: list[dict[str, Any]] = [
            {
                **{name: str(values[i]) for name, values in columns.items()},
                "price": price_list[i],
                "popularity": popularity_list[i],
            }
            for i in range(len(self.items))
        ]

    @property
    def size(self) -> int:
        return len(self.item_ids)


def save_model_folder(
    folder: Path,
    items: pd.DataFrame,
    collab: np.ndarray,
    text: np.ndarray,
    encoder: TextEncoder,
    interactions: pd.DataFrame,
    meta: dict[str, Any],
) -> None:
    """Write the files the service loads (see load_model_folder)."""
    if not len(items) == len(collab) == len(text):
        raise ValueError(
            f"items ({len(items)}), collab ({len(collab)}) and text ({len(text)}) "
            "vectors must have one row per item"
        )
    folder.mkdir(parents=True, exist_ok=True)
    items.to_parquet(folder / ITEMS_FILE, index=False)
    np.savez_compressed(
        folder / VECTORS_FILE,
        collab=collab.astype(np.float32),
        text=text.astype(np.float32),
    )
    encoder.save(folder)
    interactions[list(INTERACTION_COLUMNS)].to_parquet(
        folder / INTERACTIONS_FILE, index=False
    )
    (folder / MODEL_FILE).write_text(json.dumps(meta, indent=2, default=str))


def load_item_vectors(folder: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Items (with popularity), raw collab vectors and unit text vectors."""
    items = pd.read_parquet(folder / ITEMS_FILE)
    with np.load(folder / VECTORS_FILE) as arrays:
        collab = arrays[COLLAB].astype(np.float32)
        text = normalize_rows(arrays[TEXT].astype(np.float32))
    if not len(items) == len(collab) == len(text):
        raise ValueError(f"model folder {folder}: items and vectors differ in length")
    return items, collab, text


def load_model_folder(folder: Path) -> ScoutModel:
    """Read a folder written by save_model_folder; ValueError says what is wrong."""
    missing = [
        name
        for name in (MODEL_FILE, ITEMS_FILE, VECTORS_FILE, INTERACTIONS_FILE)
        if not (folder / name).exists()
    ]
    if missing:
        raise ValueError(f"model folder {folder} lacks {', '.join(missing)}")
    items, collab, text = load_item_vectors(folder)
    item_ids = items["item_id"].astype(str).to_numpy()
    position = {item: i for i, item in enumerate(item_ids)}
    interactions = pd.read_parquet(folder / INTERACTIONS_FILE)
    return ScoutModel(
        item_ids=item_ids,
        items=items,
        collab=collab,
        text=text,
        encoder=TextEncoder.load(folder),
        histories=build_histories(interactions, position),
        meta=json.loads((folder / MODEL_FILE).read_text()),
    )


def build_histories(
    interactions: pd.DataFrame, position: dict[str, int]
) -> dict[str, UserHistory]:
    summary = history_weights(interactions)
    summary = summary[summary["item_id"].isin(position)]
    summary = summary.sort_values(["user_id", "last_ts"], ascending=[True, False])
    summary["position"] = summary["item_id"].map(position).astype(np.int64)
    histories = {}
    for user_id, rows in summary.groupby("user_id", sort=False):
        histories[str(user_id)] = UserHistory(
            items=rows["position"].to_numpy(),
            weights=rows["weight"].to_numpy(dtype=np.float32),
            views=rows["views"].to_numpy(),
            clicks=rows["clicks"].to_numpy(),
            purchases=rows["purchases"].to_numpy(),
            last_ts=[ts.isoformat() for ts in rows["last_ts"]],
        )
    return histories
