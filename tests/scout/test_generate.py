"""The interaction generator: deterministic, well-formed, and users follow tastes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipelines.generate_interactions import (
    CATEGORIES,
    GeneratorConfig,
    generate,
    main,
    write_dataset,
)

pytestmark = pytest.mark.unit
TINY = GeneratorConfig(items=200, users=120, mean_views_per_user=15, seed=3)
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "scout"


def test_same_seed_same_data_and_other_seed_other_data() -> None:
    first, again = generate(TINY), generate(TINY)
    other = generate(GeneratorConfig(items=200, users=120, mean_views_per_user=15))

    pd.testing.assert_frame_equal(first.interactions, again.interactions)
    pd.testing.assert_frame_equal(first.items, again.items)
    assert not first.interactions.equals(other.interactions)


def test_tables_are_well_formed() -> None:
    data = generate(TINY)
    items, interactions = data.items, data.interactions

    assert items["item_id"].is_unique and len(items) == 200
    assert set(items["category"]) <= set(CATEGORIES)
    assert (items["price"] > 0).all() and set(items["currency"]) == {"EUR"}
    assert set(interactions["event"]) == {"view", "click", "purchase"}
    assert interactions["item_id"].isin(items["item_id"]).all()
    assert interactions["ts"].is_monotonic_increasing
    assert len(data.users) == 120


def test_every_click_and_purchase_follows_a_view_of_the_same_item() -> None:
    events = generate(TINY).interactions
    first_view = (
        events[events["event"] == "view"].groupby(["user_id", "item_id"])["ts"].min()
    )
    later = events[events["event"] != "view"]
    keys = list(zip(later["user_id"], later["item_id"], strict=True))

    assert all(key in first_view.index for key in keys)
    assert (later["ts"].to_numpy() > first_view.loc[keys].to_numpy()).all()


def test_users_mostly_view_their_favourite_categories() -> None:
    data = generate(TINY)
    category = data.items.set_index("item_id")["category"]
    favourites = data.users.set_index("user_id")["favourite_categories"].str.split(",")
    views = data.interactions[data.interactions["event"] == "view"]
    in_favourites = [
        category[item] in favourites[user]
        for user, item in zip(views["user_id"], views["item_id"], strict=True)
    ]

    # Two of eight categories would hold a quarter of views if tastes did not matter.
    assert sum(in_favourites) / len(in_favourites) > 0.6


def test_text_varies_within_a_product_type() -> None:
    items = generate(TINY).items

    assert items["title"].nunique() > 0.9 * len(items)
    assert items["description"].str.len().min() > 60


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (GeneratorConfig(items=10), "items=10"),
        (GeneratorConfig(users=3), "users=3"),
        (GeneratorConfig(mean_views_per_user=1000), "mean_views_per_user=1000"),
    ],
)
def test_bad_sizes_are_refused_naming_the_setting(
    config: GeneratorConfig, field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        generate(config)


def test_committed_sample_is_what_the_generator_makes(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path)]) == 0

    for name in ("items.parquet", "users.parquet", "interactions.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / name), pd.read_parquet(SAMPLE / name)
        )


def test_write_replaces_files_whole(tmp_path: Path) -> None:
    write_dataset(generate(TINY), tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "interactions.parquet",
        "items.parquet",
        "users.parquet",
    ]
