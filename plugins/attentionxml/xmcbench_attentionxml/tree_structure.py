"""The label tree's data structure (`TreeLevel`, `LabelTree`): queries, checks, save and load.

Node ids. At binary depth ``d`` of T0 the ``2^d`` clusters are numbered in heap order (cluster
``i`` splits into ``2i`` and ``2i + 1``), and the compressed tree keeps those ids, so a node's
ancestor ``s`` depths up is ``id >> s``. Leaves are numbered 0..L-1 in cluster order
(``label_of_leaf[leaf]`` is the original label id) so that every node's children are contiguous.
See `tree` for how the tree is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from xmcbench.io import write_npz

FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class TreeLevel:
    """One level: each node's parent (in the level above) and the parents' children lists (CSR)."""

    parent: np.ndarray  # (n_nodes,) ids in the level above; 0 (the root) for level 1
    children_indptr: np.ndarray  # (n_above + 1,) children of node p: ids[indptr[p]:indptr[p+1]]
    children_ids: np.ndarray  # (n_nodes,) this level's ids, grouped by parent

    @property
    def n_nodes(self) -> int:
        return int(self.parent.size)

    @property
    def max_children(self) -> int:
        """Largest number of children a node of the level above has in this level."""
        return int(np.diff(self.children_indptr).max(initial=0))


@dataclass(frozen=True, eq=False)
class LabelTree:
    """Shallow and wide PLT: ``levels[d - 1]`` is level d (1 = root's children, height+1 = leaves).

    Leaf ids are not label ids: ``label_of_leaf[leaf]`` / ``leaf_of_label[label]`` convert.
    """

    levels: list[TreeLevel]
    leaf_of_label: np.ndarray  # (L,)
    label_of_leaf: np.ndarray  # (L,)
    k: int
    m: int

    @property
    def height(self) -> int:
        """Internal levels between the root and the leaves (H)."""
        return len(self.levels) - 1

    @property
    def n_labels(self) -> int:
        return self.levels[-1].n_nodes

    @property
    def level_sizes(self) -> list[int]:
        """Node counts, root (1) first, leaves (L) last."""
        return [1] + [level.n_nodes for level in self.levels]

    def n_nodes(self, level: int) -> int:
        """Number of nodes at `level` (0 = the root)."""
        return self.level_sizes[self._check_level(level, low=0)]

    def labels_of_leaves(self, leaves: np.ndarray) -> np.ndarray:
        """Label ids of leaf ids of any shape; -1 (no leaf) stays -1."""
        leaves = np.asarray(leaves)
        return np.where(leaves >= 0, self.label_of_leaf[np.maximum(leaves, 0)], -1)

    def label_to_node(self, level: int) -> np.ndarray:
        """(L,) id of each label's ancestor at `level` (1..height+1; its leaf at height+1)."""
        level = self._check_level(level, low=1)
        node = self.leaf_of_label
        for lower in range(self.height + 1, level, -1):
            node = self.levels[lower - 1].parent[node]
        return node

    def node_labels(self, labels: sp.spmatrix, level: int) -> sp.csr_matrix:
        """(n, nodes at `level`) 0/1 CSR, Algorithm 2: a node is positive iff a label below it is.

        At level height+1 the columns are leaves (map back with ``label_of_leaf``).
        """
        labels = sp.csr_matrix(labels)  # (n, L)
        if labels.shape[1] != self.n_labels:
            raise ValueError(f"labels have {labels.shape[1]} columns, tree has {self.n_labels}")
        labels = labels.copy()
        labels.eliminate_zeros()
        node = self.label_to_node(level)  # (L,)
        out = sp.csr_matrix(
            (np.ones(labels.nnz, dtype=np.float32), node[labels.indices], labels.indptr.copy()),
            shape=(labels.shape[0], self.n_nodes(level)),
        )  # (n, nodes), duplicates where two labels share an ancestor
        out.sum_duplicates()
        out.data[:] = 1.0
        return out

    def children(self, level: int, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Children (ids at level+1) of `nodes` (ids at `level`, 0 = root) as CSR (indptr, ids)."""
        level = self._check_level(level, low=0, high=self.height)
        below = self.levels[level]
        nodes = np.asarray(nodes, dtype=np.int64).ravel()  # (q,)
        starts = below.children_indptr[nodes]  # (q,)
        counts = below.children_indptr[nodes + 1] - starts  # (q,)
        indptr = np.zeros(nodes.size + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return indptr, below.children_ids[_concat_ranges(starts, counts)]

    def children_padded(self, level: int, nodes: np.ndarray, fill: int = -1) -> np.ndarray:
        """(*nodes.shape, max children) children ids of `nodes` at `level`, padded with `fill`."""
        nodes = np.asarray(nodes, dtype=np.int64)
        level = self._check_level(level, low=0, high=self.height)
        width = self.levels[level].max_children
        indptr, ids = self.children(level, nodes)
        counts = np.diff(indptr)  # (q,)
        out = np.full((nodes.size, width), fill, dtype=np.int64)  # (q, width)
        rows = np.repeat(np.arange(nodes.size), counts)
        out[rows, np.arange(ids.size) - indptr[rows]] = ids
        return out.reshape(*nodes.shape, width)

    def validate(self) -> None:
        """Raise ValueError unless parents, children lists and the leaf permutation agree."""
        n_labels = self.n_labels
        if not np.array_equal(np.sort(self.label_of_leaf), np.arange(n_labels)):
            raise ValueError("label_of_leaf is not a permutation of the labels")
        if not np.array_equal(self.leaf_of_label[self.label_of_leaf], np.arange(n_labels)):
            raise ValueError("leaf_of_label is not the inverse of label_of_leaf")
        for depth, level in enumerate(self.levels, start=1):
            n_above = self.level_sizes[depth - 1]
            indptr = level.children_indptr
            if indptr.size != n_above + 1 or indptr[-1] != level.n_nodes:
                raise ValueError(f"level {depth}: children_indptr does not fit the level sizes")
            if not np.array_equal(np.sort(level.children_ids), np.arange(level.n_nodes)):
                raise ValueError(f"level {depth}: children_ids is not a permutation of the nodes")
            owner = np.repeat(np.arange(n_above), np.diff(level.children_indptr))
            if not np.array_equal(level.parent[level.children_ids], owner):
                raise ValueError(f"level {depth}: parent and children lists disagree")
            below = self.levels[depth] if depth < len(self.levels) else None
            if below is not None and np.any(np.diff(below.children_indptr) == 0):
                raise ValueError(f"level {depth}: an internal node has no children")

    def save(self, path: str | Path) -> None:
        """Write the tree as one .npz, atomically."""
        arrays = {
            "format_version": np.array(FORMAT_VERSION),
            "k": np.array(self.k),
            "m": np.array(self.m),
            "height": np.array(self.height),
            "leaf_of_label": self.leaf_of_label,
            "label_of_leaf": self.label_of_leaf,
        }
        for depth, level in enumerate(self.levels, start=1):
            arrays[f"parent_{depth}"] = level.parent
            arrays[f"children_indptr_{depth}"] = level.children_indptr
            arrays[f"children_ids_{depth}"] = level.children_ids
        write_npz(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> LabelTree:
        """Read a tree written by `save` and check it."""
        with np.load(path, allow_pickle=False) as data:
            if int(data["format_version"]) != FORMAT_VERSION:
                raise ValueError(f"{path}: unknown label tree format {int(data['format_version'])}")
            levels = [
                TreeLevel(
                    parent=data[f"parent_{d}"],
                    children_indptr=data[f"children_indptr_{d}"],
                    children_ids=data[f"children_ids_{d}"],
                )
                for d in range(1, int(data["height"]) + 2)
            ]
            tree = cls(
                levels=levels,
                leaf_of_label=data["leaf_of_label"],
                label_of_leaf=data["label_of_leaf"],
                k=int(data["k"]),
                m=int(data["m"]),
            )
        tree.validate()
        return tree

    def summary(self) -> str:
        """Node counts per level, and the widest node of each level's parents."""
        lines = [f"label tree: L={self.n_labels:,}, K={self.k}, M={self.m}, height {self.height}"]
        lines.append("  level 0 (root): 1")
        for depth, level in enumerate(self.levels, start=1):
            name = "leaves" if depth == len(self.levels) else "nodes"
            lines.append(
                f"  level {depth}: {level.n_nodes:,} {name} "
                f"(at most {level.max_children:,} per parent)"
            )
        return "\n".join(lines)

    def _check_level(self, level: int, *, low: int, high: int | None = None) -> int:
        high = self.height + 1 if high is None else high
        if not low <= level <= high:
            raise ValueError(f"level must be in [{low}, {high}], got {level}")
        return int(level)


def _concat_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + c) for each (s, c), vectorised."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    offsets = np.repeat(np.asarray(starts, dtype=np.int64) - (np.cumsum(counts) - counts), counts)
    return offsets + np.arange(total, dtype=np.int64)
