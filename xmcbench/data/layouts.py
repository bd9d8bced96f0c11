"""Find which raw layout a dataset folder holds and the file of each role (`detect_layout`).

Layouts, tried in this order; a folder with none of these but exactly one
visible sub-folder (an unpacked tarball's top directory) is searched one level down:

* ``pecos``: ``X.trn.txt``/``Y.trn.npz`` present. Needs ``X.{trn,tst}.txt`` (one raw text per
  line) and ``Y.{trn,tst}.npz`` (scipy CSR label matrices); optional ``X.val.txt`` +
  ``Y.val.npz`` and ``tfidf-attnxml/X.{trn,tst,val}.npz`` features. Label names: column ids.
* ``attentionxml``: ``train_texts.txt`` (else ``train_raw_texts.txt``) or ``train_labels.txt``
  present. Needs ``{train,test}_texts.txt`` (or ``_raw_texts.txt``) and ``{train,test}_labels.txt``
  (space-separated label names); optional ``*_ids.txt``, a ``valid_*`` split of the same kind,
  and ECR BOW features ``{train,test,valid}_v1.txt`` (else ``{train,test,valid}.txt``).
* ``xmc-repo``: Extreme Classification Repository sparse BOW (``l1,l2 f:v f:v``, optional
  ``n_docs n_features n_labels`` header, 0-based feature ids), as ``train.txt``/``test.txt``,
  ``train_v1.txt``/``test_v1.txt`` or ``<prefix>_train.txt``/``<prefix>_test.txt``, with an
  optional ``valid`` file named alike. Label names: the label ids; no texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import DataFormatError

LAYOUT_PECOS = "pecos"
LAYOUT_TEXT = "attentionxml"
LAYOUT_BOW = "xmc-repo"
SPLITS = ("train", "valid", "test")
_PECOS_SPLIT = {"train": "trn", "valid": "val", "test": "tst"}


@dataclass(frozen=True)
class FolderLayout:
    """Which layout a folder holds and the file of each role ("train.texts", "test.labels", ...)."""

    kind: str
    root: Path
    roles: dict[str, Path]

    @property
    def files(self) -> list[Path]:
        return sorted(self.roles.values())

    def get(self, split: str, role: str) -> Path | None:
        return self.roles.get(f"{split}.{role}")


# ---------------------------------------------------------------- layout detection


def detect_layout(path: Path) -> FolderLayout:
    """Find which layout `path` holds (see the module docstring); a missing file is an error."""
    root = Path(path)
    if not root.is_dir():
        raise DataFormatError(root, None, "dataset folder not found")
    layout = _detect_in(root)
    if layout is None:
        subdirs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if len(subdirs) == 1:
            layout = _detect_in(subdirs[0])
    if layout is None:
        found = ", ".join(sorted(p.name for p in root.iterdir())) or "nothing"
        raise DataFormatError(
            root,
            None,
            "no dataset files found; expected X.trn.txt + Y.trn.npz (PECOS), train_texts.txt + "
            "train_labels.txt (AttentionXML) or train.txt / <name>_train.txt (sparse BOW); "
            f"found: {found}",
        )
    return layout


def _detect_in(root: Path) -> FolderLayout | None:
    for detector in (_detect_pecos, _detect_text, _detect_bow):
        layout = detector(root)
        if layout is not None:
            return layout
    return None


def _require(
    root: Path, kind: str, roles: dict[str, Path], required: dict[str, str]
) -> FolderLayout:
    """Fail listing every required role without a file; else the layout."""
    missing = [label for role, label in required.items() if role not in roles]
    if missing:
        raise DataFormatError(root, None, f"{kind} layout: missing {', '.join(missing)}")
    return FolderLayout(kind=kind, root=root, roles=roles)


def _existing(root: Path, *names: str) -> Path | None:
    for name in names:
        if (root / name).is_file():
            return root / name
    return None


def _detect_pecos(root: Path) -> FolderLayout | None:
    if not (_existing(root, "X.trn.txt") or _existing(root, "Y.trn.npz")):
        return None
    roles: dict[str, Path] = {}
    for split, short in _PECOS_SPLIT.items():
        for role, name in (("texts", f"X.{short}.txt"), ("y", f"Y.{short}.npz")):
            if found := _existing(root, name):
                roles[f"{split}.{role}"] = found
        if found := _existing(root / "tfidf-attnxml", f"X.{short}.npz"):
            roles[f"{split}.tfidf"] = found
    required = {
        "train.texts": "X.trn.txt",
        "train.y": "Y.trn.npz",
        "test.texts": "X.tst.txt",
        "test.y": "Y.tst.npz",
    }
    if "valid.texts" in roles or "valid.y" in roles:
        required.update({"valid.texts": "X.val.txt", "valid.y": "Y.val.npz"})
    return _require(root, LAYOUT_PECOS, roles, required)


def _detect_text(root: Path) -> FolderLayout | None:
    if not (_existing(root, "train_texts.txt", "train_raw_texts.txt", "train_labels.txt")):
        return None
    roles: dict[str, Path] = {}
    for split in SPLITS:
        candidates = {
            "texts": (f"{split}_texts.txt", f"{split}_raw_texts.txt"),
            "labels": (f"{split}_labels.txt",),
            "ids": (f"{split}_ids.txt",),
            "bow": (f"{split}_v1.txt", f"{split}.txt"),
        }
        for role, names in candidates.items():
            if found := _existing(root, *names):
                roles[f"{split}.{role}"] = found
    required = {}
    for split in SPLITS:
        if split == "valid" and not any(k.startswith("valid.") for k in roles):
            continue
        required[f"{split}.texts"] = f"{split}_texts.txt (or {split}_raw_texts.txt)"
        required[f"{split}.labels"] = f"{split}_labels.txt"
    if "train.bow" in roles or "test.bow" in roles:
        required["train.bow"] = "train_v1.txt (or train.txt)"
        required["test.bow"] = "test_v1.txt (or test.txt)"
    return _require(root, LAYOUT_TEXT, roles, required)


def _detect_bow(root: Path) -> FolderLayout | None:
    patterns = [("", ".txt"), ("", "_v1.txt")]
    prefixes = sorted(p.name[: -len("_train.txt")] for p in root.glob("*_train.txt"))
    patterns += [(f"{prefix}_", ".txt") for prefix in prefixes]
    for head, tail in patterns:
        roles = {
            f"{split}.bow": root / f"{head}{split}{tail}"
            for split in SPLITS
            if (root / f"{head}{split}{tail}").is_file()
        }
        if "train.bow" in roles or "test.bow" in roles:
            required = {"train.bow": f"{head}train{tail}", "test.bow": f"{head}test{tail}"}
            return _require(root, LAYOUT_BOW, roles, required)
    return None
