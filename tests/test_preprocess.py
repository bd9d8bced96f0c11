"""Tokenizer and preprocessing: vocabulary, truncation, labels, TF-IDF, validation carve, cache."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from xmcbench.data import preprocess, readers
from xmcbench.data import tokenize as tokenize_module
from xmcbench.data.holdout import VALID_SEED, holdout_rows
from xmcbench.data.preprocess import (
    PrepareOptions,
    build,
    carve_validation,
    hash_files,
    prepare,
    prepare_folder,
)
from xmcbench.data.readers import RawDataset, RawSplit, read_folder
from xmcbench.data.tokenize import tokenize, tokenize_batch
from xmcbench.errors import XMCBenchError
from xmcbench.registry import DatasetSpec
from xmcbench.types import PAD_ID, UNK_ID

QUIET = {"progress": False}

# ---------------------------------------------------------------- tokenizer


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("It's state-of-the-art.", ["it's", "state-of-the-art"]),
        ("don’t stop", ["don't", "stop"]),
        ("'quoted' --dash-- a--b", ["quoted", "dash", "a", "b"]),
        ("pi is 3.14, not 1,000.", ["pi", "is", "3.14", "not", "1,000"]),
        ("title /SEP/ body /sep/x", ["title", "/SEP/", "body", "/SEP/", "x"]),
        ("foo_bar e.g. C++ (v2)", ["foo", "bar", "e", "g", "c", "v2"]),
        ("Straße ÉCOLE 2ping", ["straße", "école", "2ping"]),
        ("  ...  ", []),
    ],
)
def test_tokenize_examples(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="aB1 .,'’-/SEP_\n\té", max_size=30), max_size=6))
def test_tokenize_batch_matches_tokenize(texts: list[str]) -> None:
    tokens, counts = tokenize_batch(texts)
    expected = [tokenize(text) for text in texts]
    assert tokens == [token for row in expected for token in row]
    assert counts.tolist() == [len(row) for row in expected]


# ---------------------------------------------------------------- fixtures

TRAIN = [
    ("the cat sat on the mat", "pets cat"),
    ("the dog ate the bone", "pets dog"),
    ("a cat and a dog", "cat dog cat"),  # duplicate label collapses
    ("zebra stripes", "wild"),
    ("the end", ""),  # no labels: allowed
]
TEST = [("the cat sat quietly", "cat unseen-label"), ("unknown words only", "wild")]


def write_text_layout(root: Path, train=TRAIN, test=TEST) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for split, rows in (("train", train), ("test", test)):
        (root / f"{split}_texts.txt").write_text("".join(t + "\n" for t, _ in rows))
        (root / f"{split}_labels.txt").write_text("".join(lab + "\n" for _, lab in rows))
    return root


def raw_from(train=TRAIN, test=TEST, valid=None) -> RawDataset:
    def split(rows):
        return RawSplit(texts=[t for t, _ in rows], labels=[lab.split() for _, lab in rows])

    return RawDataset(train=split(train), test=split(test), valid=valid and split(valid))


def words_of(split, i: int) -> list[str]:
    return [split.vocab[t] for t in split.document(i)]


# ---------------------------------------------------------------- vocabulary and tokens


def test_vocabulary_order_and_ids(tmp_path: Path) -> None:
    ds = prepare(raw_from(), "toy", PrepareOptions(valid_size=0), cache_root=tmp_path, **QUIET)
    vocab = ds.train.vocab
    assert vocab[PAD_ID] == "<pad>" and vocab[UNK_ID] == "<unk>"
    # by training document frequency ("the": 3 docs, "cat"/"dog": 2), ties broken by word
    assert vocab[2:5] == ("the", "cat", "dog")
    assert vocab[5:] == tuple(sorted(vocab[5:]))  # all remaining are in one document
    assert vocab[5:8] == ("a", "and", "ate")
    assert words_of(ds.train, 0) == ["the", "cat", "sat", "on", "the", "mat"]
    assert ds.train.tokens.dtype == np.int32 and ds.train.offsets.dtype == np.int64
    assert words_of(ds.test, 0) == ["the", "cat", "sat", "<unk>"]  # test words not in vocab
    assert ds.valid is None and ds.test.vocab is vocab


def test_max_vocab_and_min_count(tmp_path: Path) -> None:
    small = build(raw_from(), "toy", PrepareOptions(valid_size=0, max_vocab=4), **QUIET)
    assert small.train.vocab == ("<pad>", "<unk>", "the", "cat")
    assert words_of(small.train, 1) == ["the", "<unk>", "<unk>", "the", "<unk>"]
    frequent = build(raw_from(), "toy", PrepareOptions(valid_size=0, min_count=2), **QUIET)
    # "a" occurs twice but in one document only: document frequency 1
    assert frequent.train.vocab == ("<pad>", "<unk>", "the", "cat", "dog")


def test_truncation_keeps_full_text_for_tfidf(tmp_path: Path) -> None:
    ds = build(raw_from(), "toy", PrepareOptions(valid_size=0, max_len=3), **QUIET)
    assert ds.train.lengths.max() == 3
    assert words_of(ds.train, 0) == ["the", "cat", "sat"]
    mat = ds.train.vocab.index("mat")  # word 6 of document 0: cut from tokens, kept in TF-IDF
    assert ds.train.features[0, mat - 2] > 0
    assert ds.train.features.shape == (5, len(ds.train.vocab) - 2)


def test_tfidf_features(tmp_path: Path) -> None:
    ds = build(raw_from(), "toy", PrepareOptions(valid_size=0), **QUIET)
    for split in (ds.train, ds.test):
        assert split.features.dtype == np.float32 and sp.isspmatrix_csr(split.features)
        norms = np.sqrt(split.features.multiply(split.features).sum(axis=1)).A1
        np.testing.assert_allclose(norms[norms > 0], 1.0, rtol=1e-5)
    assert ds.test.features[1].nnz == 0  # only unknown words: nothing to weigh
    # sublinear tf: "the" twice in doc 0 weighs 1 + log 2 times its idf, before normalising
    row = ds.train.features[0].toarray().ravel()
    the, cat = ds.train.vocab.index("the") - 2, ds.train.vocab.index("cat") - 2
    idf = {w: np.log(6 / (1 + df)) + 1 for w, df in (("the", 3), ("cat", 2))}
    assert row[the] / row[cat] == pytest.approx((1 + np.log(2)) * idf["the"] / idf["cat"])
    without = build(raw_from(), "toy", PrepareOptions(valid_size=0, tfidf=False), **QUIET)
    assert without.train.features is None


# ---------------------------------------------------------------- labels


def test_labels_binarised_with_unseen_test_labels(tmp_path: Path) -> None:
    ds = build(raw_from(), "toy", PrepareOptions(valid_size=0), **QUIET)
    assert ds.train.label_names == ("pets", "cat", "dog", "wild", "unseen-label")
    assert ds.train.labels.dtype == np.float32 and ds.train.labels.shape == (5, 5)
    assert ds.train.labels[2].toarray().ravel().tolist() == [0, 1, 1, 0, 0]  # duplicate once
    assert ds.train.labels[4].nnz == 0
    assert ds.test.labels[0].indices.tolist() == [1, 4]  # the unseen label stays in the truth
    assert ds.info["unlabelled"] == {"train": 1, "test": 0}


# ---------------------------------------------------------------- validation


def many_docs(n: int) -> list[tuple[str, str]]:
    return [(f"doc number{i} text", f"label{i % 7}") for i in range(n)]


def test_validation_carve_is_deterministic_and_disjoint() -> None:
    rows = many_docs(50)
    raw = raw_from(train=rows)
    first = carve_validation(raw, PrepareOptions(valid_size=8))
    second = carve_validation(raw, PrepareOptions(valid_size=8))
    other = carve_validation(raw, PrepareOptions(valid_size=8, valid_seed=7))
    assert first["valid"].texts == second["valid"].texts
    assert first["valid"].texts != other["valid"].texts
    assert len(first["valid"]) == 8 and len(first["train"]) == 42
    assert set(first["valid"].texts).isdisjoint(first["train"].texts)
    assert sorted(first["valid"].texts + first["train"].texts) == sorted(t for t, _ in rows)
    picked = np.sort(np.random.default_rng(1240).permutation(50)[:8])
    assert first["valid"].texts == [rows[i][0] for i in picked]


def test_the_carve_is_the_shared_holdout_rule() -> None:
    rows = many_docs(50)
    carved = carve_validation(raw_from(train=rows), PrepareOptions(valid_size=8))
    keep, held = holdout_rows(50, 8)  # the rows every carve in xmcbench uses
    assert carved["valid"].texts == [rows[i][0] for i in held]
    assert carved["train"].texts == [rows[i][0] for i in keep]
    assert np.array_equal(holdout_rows(50, 8, VALID_SEED)[1], held)
    with pytest.raises(ValueError, match="cannot hold out 51 of 50"):
        holdout_rows(50, 51)


def test_validation_size_rules() -> None:
    raw = raw_from(train=many_docs(50))
    assert len(carve_validation(raw, PrepareOptions())["valid"]) == 5  # 10% of train
    assert "valid" not in carve_validation(raw, PrepareOptions(valid_size=0))
    spec = DatasetSpec(name="x", valid_size=3)
    assert len(carve_validation(raw, PrepareOptions().with_spec(spec))["valid"]) == 3
    assert PrepareOptions(valid_size=9).with_spec(spec).valid_size == 9
    assert PrepareOptions().effective_valid_size(1_000_000) == 4000
    with pytest.raises(XMCBenchError, match="no training documents"):
        carve_validation(raw, PrepareOptions(valid_size=50))
    given = raw_from(train=many_docs(50), valid=TRAIN[:2])
    assert carve_validation(given, PrepareOptions())["valid"] is given.valid


def test_validation_split_is_prepared(tmp_path: Path) -> None:
    ds = build(raw_from(train=many_docs(40)), "toy", PrepareOptions(valid_size=4), **QUIET)
    assert len(ds.train) == 36 and len(ds.valid) == 4
    assert ds.valid.features.shape[1] == ds.train.features.shape[1]
    assert ds.valid.labels.shape[1] == ds.n_labels and ds.info["valid_source"] == "carved"


# ---------------------------------------------------------------- hashing and cache


def test_cache_hit_skips_tokenizer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_text_layout(tmp_path / "data")
    cache = tmp_path / "cache"
    options = PrepareOptions(valid_size=1)
    first = prepare(read_folder(folder), "toy", options, cache_root=cache, **QUIET)
    assert first.info["from_cache"] is False
    assert (cache / first.content_hash / "meta.json").is_file()

    def boom(*args, **kwargs):
        raise AssertionError("tokenizer called on a cache hit")

    monkeypatch.setattr(tokenize_module, "tokenize", boom)
    monkeypatch.setattr(tokenize_module, "tokenize_batch", boom)
    second = prepare(read_folder(folder), "toy", options, cache_root=cache, **QUIET)
    assert second.info["from_cache"] is True
    assert second.content_hash == first.content_hash
    for a, b in (
        (first.train, second.train),
        (first.valid, second.valid),
        (first.test, second.test),
    ):
        np.testing.assert_array_equal(a.tokens, b.tokens)
        np.testing.assert_array_equal(a.offsets, b.offsets)
        assert (a.labels != b.labels).nnz == 0 and (a.features != b.features).nnz == 0
        assert a.vocab == b.vocab and a.label_names == b.label_names
    with pytest.raises(AssertionError, match="tokenizer called"):  # the patch does bite
        prepare(read_folder(folder), "toy", PrepareOptions(valid_size=2), cache_root=cache, **QUIET)


def test_prepare_folder_hit_reads_no_raw_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_text_layout(tmp_path / "data")
    (folder / "train_ids.txt").write_text("".join(f"id{i}\n" for i in range(len(TRAIN))))
    cache = tmp_path / "cache"
    first = prepare_folder(folder, "toy", PrepareOptions(valid_size=0), cache_root=cache, **QUIET)
    assert first.train.ids == tuple(f"id{i}" for i in range(len(TRAIN))) and first.test.ids is None

    def boom(*args, **kwargs):
        raise AssertionError("raw files read on a cache hit")

    monkeypatch.setattr(preprocess, "read_layout", boom)
    again = prepare_folder(folder, "toy", PrepareOptions(valid_size=0), cache_root=cache, **QUIET)
    assert again.info["from_cache"] and again.train.ids == first.train.ids
    direct = prepare(
        readers.read_folder(folder), "toy", PrepareOptions(valid_size=0), cache_root=cache
    )
    assert direct.content_hash == first.content_hash and direct.info["from_cache"]


def test_content_hash_follows_contents_and_options(tmp_path: Path) -> None:
    folder = write_text_layout(tmp_path / "data")
    base = build(read_folder(folder), "toy", PrepareOptions(), **QUIET)

    def digest(path: Path, options: PrepareOptions | None = None) -> str:
        return preprocess._dataset_hash(read_folder(path), options or PrepareOptions())

    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(folder, moved)
    assert digest(folder) == digest(moved)  # contents, not location
    assert digest(folder) != digest(folder, PrepareOptions(max_len=10))
    (moved / "test_labels.txt").write_text("cat\nwild dog\n")
    assert digest(folder) != digest(moved)
    assert base.train.vocab  # build alone works without any cache


def test_hash_files_is_order_independent(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(b"x" * (3 << 20))  # several read blocks
    b.write_bytes(b"y")
    assert hash_files([a, b]) == hash_files([b, a])
    b.write_bytes(b"z")
    assert hash_files([a, b]) != hash_files([b, a.parent / "b.txt"])  # content change seen
    # a byte moving from one file to the next changes the hash (sizes are hashed too)
    a.write_bytes(b"xy")
    b.write_bytes(b"z")
    h = hash_files([a, b])
    a.write_bytes(b"x")
    b.write_bytes(b"yz")
    assert hash_files([a, b]) != h


def test_in_memory_dataset_hash_uses_content(tmp_path: Path) -> None:
    one = prepare(raw_from(), "toy", PrepareOptions(valid_size=0), cache_root=tmp_path, **QUIET)
    changed = [*TRAIN[:-1], ("the end again", "")]
    two = prepare(raw_from(train=changed), "toy", PrepareOptions(valid_size=0), cache_root=tmp_path)
    assert one.content_hash != two.content_hash and not two.info["from_cache"]


def test_corrupt_cache_is_rebuilt(tmp_path: Path) -> None:
    folder = write_text_layout(tmp_path / "data")
    cache = tmp_path / "cache"
    options = PrepareOptions(valid_size=0)
    first = prepare_folder(folder, "toy", options, cache_root=cache, **QUIET)
    target = cache / first.content_hash / "train.npz"
    target.write_bytes(target.read_bytes()[:50])  # truncated
    rebuilt = prepare_folder(folder, "toy", options, cache_root=cache, **QUIET)
    assert rebuilt.info["from_cache"] is False
    np.testing.assert_array_equal(rebuilt.train.tokens, first.train.tokens)
    assert prepare_folder(folder, "toy", options, cache_root=cache, **QUIET).info["from_cache"]
    assert [p.name for p in cache.iterdir()] == [first.content_hash]  # no temporary left


def test_default_cache_root_is_under_dataset_dir(isolated_home: Path) -> None:
    ds = prepare(raw_from(), "toy-default", PrepareOptions(valid_size=0), **QUIET)
    assert (
        Path(ds.info["cache_dir"]).parent == isolated_home / "datasets" / "toy-default" / "prepared"
    )


def test_progress_bar_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("xmcbench.data.prep_tokens._PROGRESS_MIN_DOCS", 0)
    monkeypatch.setattr("xmcbench.data.prep_tokens._CHUNK_DOCS", 2)  # several chunks
    with_bar = build(raw_from(), "toy", PrepareOptions(valid_size=0), progress=True)
    plain = build(raw_from(), "toy", PrepareOptions(valid_size=0), progress=False)
    np.testing.assert_array_equal(with_bar.train.tokens, plain.train.tokens)
    assert with_bar.train.vocab == plain.train.vocab
    assert (with_bar.train.features != plain.train.features).nnz == 0


# ---------------------------------------------------------------- other layouts


def test_bow_layout_uses_file_features(tmp_path: Path) -> None:
    folder = tmp_path / "bow"
    folder.mkdir()
    (folder / "train.txt").write_text("4 3 3\n0 0:1 1:1\n1 2:2\n0,2 0:3\n 1:1\n")
    (folder / "test.txt").write_text("1 3 3\n2 2:1\n")
    ds = prepare_folder(folder, "bow", PrepareOptions(valid_size=1), cache_root=tmp_path / "c")
    assert ds.train.vocab == ("<pad>", "<unk>") and ds.train.tokens.size == 0
    assert len(ds.train) == 3 and len(ds.valid) == 1 and ds.info["features"] == "files"
    norms = np.sqrt(ds.train.features.multiply(ds.train.features).sum(axis=1)).A1
    np.testing.assert_allclose(norms, 1.0, rtol=1e-6)
    assert set(ds.train.label_names) == {"0", "1", "2"}


def test_pecos_layout_prepares(tmp_path: Path) -> None:
    folder = tmp_path / "pecos" / "tiny"
    folder.mkdir(parents=True)
    (folder / "X.trn.txt").write_text("a b\nb c\nc d\n")
    (folder / "X.tst.txt").write_text("a d\n")
    sp.save_npz(folder / "Y.trn.npz", sp.csr_matrix(np.eye(3, dtype=np.float32)))
    sp.save_npz(folder / "Y.tst.npz", sp.csr_matrix(np.array([[0, 0, 0, 1]], dtype=np.float32)))
    ds = prepare_folder(tmp_path / "pecos", "p", PrepareOptions(valid_size=0), cache_root=tmp_path)
    assert ds.info["layout"] == "pecos" and ds.info["features"] == "tfidf"
    assert ds.test.label_names[ds.test.labels[0].indices[0]] == "3"


def test_mixed_text_and_no_text_is_rejected() -> None:
    raw = RawDataset(
        train=RawSplit(texts=["a b"], labels=[["x"]]),
        test=RawSplit(texts=None, labels=[["x"]]),
    )
    with pytest.raises(XMCBenchError):
        build(raw, "bad", PrepareOptions(valid_size=0), **QUIET)


@pytest.mark.parametrize(
    "values",
    [{"max_len": 0}, {"valid_size": -1}, {"max_len": "10"}, {"tfidf": 1}, {"max_vocab": True}],
)
def test_options_are_checked(values: dict) -> None:
    with pytest.raises(XMCBenchError, match="preprocessing option"):
        PrepareOptions(**values)


def test_options_from_mapping() -> None:
    assert PrepareOptions.from_mapping({"max_len": 7, "valid_size": None}).max_len == 7
    with pytest.raises(XMCBenchError, match=r"unknown preprocessing option.*max_length"):
        PrepareOptions.from_mapping({"max_length": 7})


@pytest.mark.parametrize("split", ["train", "valid", "test"])
def test_an_empty_split_in_memory_is_named(split: str) -> None:
    rows = {"train": TRAIN, "valid": TRAIN[:2], "test": TEST, split: []}
    raw = raw_from(train=rows["train"], test=rows["test"], valid=rows["valid"])
    if split == "valid":  # raw_from drops a falsy valid: give an empty split explicitly
        raw = RawDataset(train=raw.train, test=raw.test, valid=RawSplit(texts=[], labels=[]))
    with pytest.raises(XMCBenchError, match=f"^the {split} split has no documents$"):
        build(raw, "toy", PrepareOptions(), **QUIET)


def test_an_empty_training_file_is_named_not_blamed_on_valid_size(tmp_path: Path) -> None:
    root = write_text_layout(tmp_path / "d", train=[])
    expected = f"{root / 'train_texts.txt'}: no documents (the file is empty)"
    with pytest.raises(XMCBenchError, match=f"^{re.escape(expected)}$"):
        prepare_folder(root, "toy", cache_root=tmp_path / "cache", **QUIET)
