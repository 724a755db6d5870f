"""XGBoost's exact TreeSHAP values for a few rows, from tables built when a model loads.

`Booster.predict(pred_contribs=True)` needs a DMatrix and took 1.05 to 1.1 ms for
one row of the 200-tree model (0.3 ms a row in batches): the most expensive step of
every answer that opens a case. The values themselves follow a closed form that
lets most of that work be done once per model.

Path-dependent TreeSHAP (the algorithm behind pred_contribs) splits over leaves. A
leaf with value v, reached through splits on the distinct features U (d = |U|), adds
to each feature i in U

    v * (o_i - z_i) * sum over S in U - {i} of
        |S|! (d - 1 - |S|)! / d! * prod(o_j, j in S) * prod(z_j, j not in S, j != i)

where z_j is the product of the cover fractions (child cover / parent cover) of the
path's splits on feature j, and o_j is 1 when the row goes the path's way at every
one of those splits, else 0. A row enters only through the bits o, so the values of
each leaf for all 2^d bit patterns are computed here, once; explaining a row is then
one branch test per node, one bit pattern per leaf, one table look-up per (leaf,
feature) pair and one sum per feature: 0.19 to 0.40 ms for that model in
bench/bench_sentinel.py. The bias column is the expected value of every tree plus
the base margin, as in XGBoost.

`usable_tree_shap` uses the tables only after they reproduced XGBoost's own
pred_contribs on rows that sit on every split threshold; otherwise the service keeps
calling XGBoost. Rows take the branches of api/sentinel/forest.py (same nodes, same
rules), and the tables also give the margin of the leaves reached, so one pass
yields both the score and its explanation.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import xgboost as xgb

from api.sentinel.forest import FlatForest, UnsupportedModel, boundary_rows

logger = logging.getLogger(__name__)

# The bit patterns of a leaf double with each distinct feature on its path; past
# this many values in all (4 bytes each) the tables are not built.
MAX_TABLE_VALUES = 8_000_000
MAX_DISTINCT_FEATURES = 16
CHECK_ROWS = 512
# Rows go one at a time (0.19 to 0.40 ms each): a larger batch is scored by
# inplace_predict, much cheaper per row in bulk, and only its cases are explained.
MAX_ROWS = 64
# XGBoost sums float32 values over all trees; so do the tables, in another order.
TOLERANCE = 1e-4

FloatRows = npt.NDArray[np.float32]


@dataclass(frozen=True)
class _Leaf:
    value: float
    steps: list[tuple[int, bool, int]]  # (node, goes left, slot of its feature)
    features: list[int]  # feature of each slot, in order of first appearance
    zero_fractions: list[float]  # z of each slot


@dataclass(frozen=True)
class TreeShapTables:
    """Per-leaf TreeSHAP values for every bit pattern, and what is needed to look up."""

    # Index arrays are int32, half the bytes of intp to read per row: ~6% faster
    # hot (0.085 -> 0.080 ms on the test model; 0.2 to 0.3 ms after an idle pause).
    node_feature: npt.NDArray[np.int32]  # the forest's nodes plus one always-left
    node_threshold: npt.NDArray[np.float32]
    node_default_left: npt.NDArray[np.bool_]
    step_node: npt.NDArray[np.int32]  # (steps, leaves): a leaf's path, padded
    step_left: npt.NDArray[np.bool_]
    step_bit: npt.NDArray[np.int32]  # 1 << slot of the step's feature
    all_bits: npt.NDArray[np.int32]  # (leaves,): every slot's bit set
    leaf_value: npt.NDArray[np.float32]
    pair_leaf: npt.NDArray[np.int32]  # (pairs,): one pair per (leaf, slot), by feature
    pair_start: npt.NDArray[np.int32]  # where the pair's 2^d values begin in `values`
    values: npt.NDArray[np.float32]
    feature_starts: npt.NDArray[np.intp]  # first pair of each feature in pair order
    feature_ids: npt.NDArray[np.intp]
    features: int
    bias: np.float32  # base margin plus every tree's expected value
    base_margin: np.float32

    @classmethod
    def from_booster(cls, booster: xgb.Booster, forest: FlatForest) -> TreeShapTables:
        learner = json.loads(bytes(booster.save_raw("json")))["learner"]
        trees = learner["gradient_booster"]["model"]["trees"]
        features = booster.num_features()
        leaves: list[_Leaf] = []
        offset = 0
        for tree in trees:
            leaves.extend(_leaves(tree, offset))
            offset += len(tree["left_children"])
        if offset != forest.feature.size:
            raise UnsupportedModel("trees differ from the flat forest")
        return cls._build(leaves, forest, features)

    @classmethod
    def _build(
        cls, leaves: list[_Leaf], forest: FlatForest, features: int
    ) -> TreeShapTables:
        widest = max(len(leaf.features) for leaf in leaves)
        if widest > MAX_DISTINCT_FEATURES:
            raise UnsupportedModel(f"a path splits on {widest} distinct features")
        size = sum((1 << len(leaf.features)) * len(leaf.features) for leaf in leaves)
        if size > MAX_TABLE_VALUES:
            raise UnsupportedModel(f"tables of {size} values")
        depth = max(len(leaf.steps) for leaf in leaves)
        count = len(leaves)
        always_left = forest.feature.size  # the padding node every row goes left at
        step_node = np.full((depth, count), always_left, dtype=np.intp)
        step_left = np.ones((depth, count), dtype=bool)
        step_bit = np.zeros((depth, count), dtype=np.int32)
        for index, leaf in enumerate(leaves):
            for level, (node, goes_left, slot) in enumerate(leaf.steps):
                step_node[level, index] = node
                step_left[level, index] = goes_left
                step_bit[level, index] = 1 << slot
        pair_leaf, pair_slot, pair_feature = _pairs(leaves)
        order = np.argsort(pair_feature, kind="stable")
        pair_leaf, pair_slot, pair_feature = (
            pair_leaf[order],
            pair_slot[order],
            pair_feature[order],
        )
        widths = np.array([1 << len(leaves[i].features) for i in pair_leaf])
        pair_start = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.intp)
        values = np.empty(int(widths.sum()), dtype=np.float64)
        tables = _leaf_tables(leaves)
        for pair, (leaf, slot) in enumerate(zip(pair_leaf, pair_slot, strict=True)):
            start = pair_start[pair]
            values[start : start + widths[pair]] = tables[leaf][:, slot]
        feature_starts = np.flatnonzero(
            np.concatenate([[True], pair_feature[1:] != pair_feature[:-1]])
        )
        expected = sum(leaf.value * math.prod(leaf.zero_fractions) for leaf in leaves)
        return cls(
            node_feature=np.append(forest.feature, 0).astype(np.int32),
            node_threshold=np.append(forest.threshold, np.float32(np.inf)),
            node_default_left=np.append(forest.default_left, True),
            step_node=step_node.astype(np.int32),
            step_left=step_left,
            step_bit=step_bit,
            all_bits=np.array(
                [(1 << len(leaf.features)) - 1 for leaf in leaves], dtype=np.int32
            ),
            leaf_value=np.array([leaf.value for leaf in leaves], dtype=np.float32),
            pair_leaf=pair_leaf.astype(np.int32),
            pair_start=pair_start.astype(np.int32),
            values=values.astype(np.float32),
            feature_starts=feature_starts.astype(np.intp),
            feature_ids=pair_feature[feature_starts].astype(np.intp),
            features=features,
            bias=np.float32(float(forest.base_margin) + expected),
            base_margin=forest.base_margin,
        )

    def explain(self, rows: FloatRows) -> tuple[FloatRows, FloatRows]:
        """(margins, contributions): per row, the log-odds and one value per feature
        plus the bias in the last column, as pred_contribs gives them."""
        margins = np.empty(rows.shape[0], dtype=np.float32)
        out = np.zeros((rows.shape[0], self.features + 1), dtype=np.float32)
        for index, row in enumerate(rows):
            margins[index], out[index] = self._explain_row(row)
        return margins, out

    def _explain_row(self, row: FloatRows) -> tuple[np.float32, FloatRows]:
        values = row.take(self.node_feature)
        goes_left = values < self.node_threshold
        if np.isnan(row).any():  # online features never are; missing goes default
            goes_left = np.where(np.isnan(values), self.node_default_left, goes_left)
        strays = (goes_left.take(self.step_node) != self.step_left) * self.step_bit
        off_path = np.bitwise_or.reduce(strays, axis=0)
        pattern = self.all_bits & ~off_path
        picked = self.values.take(self.pair_start + pattern.take(self.pair_leaf))
        contributions = np.zeros(self.features + 1, dtype=np.float32)
        contributions[self.feature_ids] = np.add.reduceat(picked, self.feature_starts)
        contributions[-1] = self.bias
        # The leaf each tree sends the row to is the one it strays from nowhere.
        margin = self.leaf_value[off_path == 0].sum(dtype=np.float32)
        return margin + self.base_margin, contributions


def _leaves(tree: dict[str, Any], offset: int) -> list[_Leaf]:
    """Every leaf of one tree (JSON dump) with its path, node ids made global."""
    left, right = tree["left_children"], tree["right_children"]
    cover, feature = tree["sum_hessian"], tree["split_indices"]
    found: list[_Leaf] = []
    pending: list[tuple[int, list[tuple[int, bool, int]]]] = [(0, [])]
    while pending:
        node, path = pending.pop()
        if left[node] == -1:
            found.append(_leaf(tree["split_conditions"][node], path, feature, cover))
            continue
        for child, goes_left in ((left[node], True), (right[node], False)):
            pending.append((child, [*path, (node, goes_left, child)]))
    return [
        _Leaf(
            leaf.value,
            [(node + offset, goes, slot) for node, goes, slot in leaf.steps],
            leaf.features,
            leaf.zero_fractions,
        )
        for leaf in found
    ]


def _leaf(
    value: float,
    path: list[tuple[int, bool, int]],
    feature: list[int],
    cover: list[float],
) -> _Leaf:
    """Merge the path's splits per feature: z multiplies, a slot per feature."""
    slots: dict[int, int] = {}
    zero_fractions: list[float] = []
    steps = []
    for node, goes_left, child in path:
        slot = slots.setdefault(feature[node], len(slots))
        if slot == len(zero_fractions):
            zero_fractions.append(1.0)
        if cover[node] <= 0:
            raise UnsupportedModel("a split node without cover")
        zero_fractions[slot] *= cover[child] / cover[node]
        steps.append((node, goes_left, slot))
    return _Leaf(float(value), steps, list(slots), zero_fractions)


def _pairs(
    leaves: list[_Leaf],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(leaf, slot, feature) for every slot of every leaf."""
    leaf_ids = [i for i, leaf in enumerate(leaves) for _ in leaf.features]
    slots = [slot for leaf in leaves for slot in range(len(leaf.features))]
    features = [feature for leaf in leaves for feature in leaf.features]
    return (
        np.array(leaf_ids, dtype=np.intp),
        np.array(slots, dtype=np.intp),
        np.array(features, dtype=np.intp),
    )


def _leaf_tables(leaves: list[_Leaf]) -> list[npt.NDArray[np.float64]]:
    """Each leaf's (2^d, d) values, computed for all leaves of one width at once."""
    tables: list[npt.NDArray[np.float64]] = [np.empty(0)] * len(leaves)
    by_width: dict[int, list[int]] = {}
    for index, leaf in enumerate(leaves):
        by_width.setdefault(len(leaf.features), []).append(index)
    for indices in by_width.values():
        z = np.array([leaves[i].zero_fractions for i in indices], dtype=np.float64)
        v = np.array([leaves[i].value for i in indices], dtype=np.float64)
        for i, table in zip(indices, _shapley_values(z, v), strict=True):
            tables[i] = table
    return tables


def _shapley_values(
    zero_fractions: npt.NDArray[np.float64], leaf_values: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """(leaves, 2^d, d): the formula of the module docstring for every bit pattern.

    The sum over subsets S of size k of prod(o_j, j in S) * prod(z_j, j not in S) is
    the coefficient of t^k in prod over j != i of (z_j + o_j t).
    """
    count, width = zero_fractions.shape
    patterns = np.arange(1 << width)
    ones = ((patterns[:, None] >> np.arange(width)) & 1).astype(np.float64)
    weights = np.array(
        [
            math.factorial(k) * math.factorial(width - 1 - k) / math.factorial(width)
            for k in range(width)
        ]
    )
    out = np.empty((count, patterns.size, width))
    for i in range(width):
        coefficients = np.zeros((count, patterns.size, width))
        coefficients[..., 0] = 1.0
        for j in range(width):
            if j == i:
                continue
            product = coefficients * zero_fractions[:, None, j : j + 1]
            product[..., 1:] += coefficients[..., :-1] * ones[None, :, j : j + 1]
            coefficients = product
        gap = ones[None, :, i] - zero_fractions[:, None, i]
        out[..., i] = leaf_values[:, None] * gap * (coefficients @ weights)
    return out


def usable_tree_shap(
    booster: xgb.Booster, forest: FlatForest | None, seed: int = 0
) -> TreeShapTables | None:
    """Tables for `booster` if they give XGBoost's own pred_contribs, else None."""
    if forest is None:
        return None
    try:
        tables = TreeShapTables.from_booster(booster, forest)
    except (UnsupportedModel, KeyError, ValueError) as error:
        logger.info("tree_shap_tables_unused", extra={"reason": str(error)})
        return None
    worst = largest_difference(tables, forest, booster, seed)
    if worst > TOLERANCE:
        logger.warning(
            "tree_shap_tables_unused",
            extra={"reason": f"differ from XGBoost by up to {worst:.3g}"},
        )
        return None
    logger.info(
        "tree_shap_tables_used",
        extra={"leaves": int(tables.leaf_value.size), "values": tables.values.size},
    )
    return tables


def largest_difference(
    tables: TreeShapTables, forest: FlatForest, booster: xgb.Booster, seed: int
) -> float:
    """Largest gap to XGBoost, in contributions and in margins, on boundary rows."""
    rows = boundary_rows(forest, tables.features, CHECK_ROWS, seed)
    matrix = xgb.DMatrix(rows, feature_names=booster.feature_names, nthread=1)
    expected = np.asarray(booster.predict(matrix, pred_contribs=True))
    margins = np.asarray(booster.predict(matrix, output_margin=True))
    got_margins, got = tables.explain(rows)
    return float(
        max(np.max(np.abs(got - expected)), np.max(np.abs(got_margins - margins)))
    )
