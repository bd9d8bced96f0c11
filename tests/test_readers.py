"""Raw readers: layout detection, parsing, and a DataFormatError naming file:line for bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from xmcbench.cli import main
from xmcbench.data.readers import (
    LAYOUT_BOW,
    LAYOUT_PECOS,
    LAYOUT_TEXT,
    detect_layout,
    iter_lines,
    read_bow,
    read_folder,
    read_split_files,
)
from xmcbench.errors import DataFormatError


def write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def text_folder(root: Path, *, valid: bool = False) -> Path:
    write(root / "train_texts.txt", ["the cat sat", "a dog ran", "cats and dogs"])
    write(root / "train_labels.txt", ["animal cat", "animal dog", ""])
    write(root / "test_texts.txt", ["the bird flew", "a cat"])
    write(root / "test_labels.txt", ["bird", "cat"])
    if valid:
        write(root / "valid_texts.txt", ["one more cat"])
        write(root / "valid_labels.txt", ["cat"])
    return root


def expect_error(match_parts: list[str], func, *args, **kwargs) -> DataFormatError:
    with pytest.raises(DataFormatError) as info:
        func(*args, **kwargs)
    message = str(info.value)
    for part in match_parts:
        assert part in message, f"{part!r} not in {message!r}"
    return info.value


# ---------------------------------------------------------------- AttentionXML text layout


def test_text_layout_reads_all_splits(tmp_path: Path) -> None:
    root = text_folder(tmp_path / "d", valid=True)
    write(root / "train_ids.txt", ["d1", "d2", "d3"])
    raw = read_folder(root)
    assert raw.layout == LAYOUT_TEXT
    assert raw.train.texts == ["the cat sat", "a dog ran", "cats and dogs"]
    assert raw.train.labels == [["animal", "cat"], ["animal", "dog"], []]
    assert raw.train.ids == ["d1", "d2", "d3"]
    assert raw.test.ids is None
    assert raw.train.n_unlabelled == 1  # allowed, counted
    assert raw.valid is not None and raw.valid.labels == [["cat"]]
    assert raw.train.features is None
    assert {p.name for p in raw.files} == {
        "train_texts.txt",
        "train_labels.txt",
        "train_ids.txt",
        "test_texts.txt",
        "test_labels.txt",
        "valid_texts.txt",
        "valid_labels.txt",
    }


def test_text_layout_prefers_texts_over_raw_texts(tmp_path: Path) -> None:
    root = text_folder(tmp_path / "d")
    write(root / "train_raw_texts.txt", ["RAW 1", "RAW 2", "RAW 3"])
    assert read_folder(root).train.texts[0] == "the cat sat"
    (root / "train_texts.txt").unlink()
    assert read_folder(root).train.texts[0] == "RAW 1"


def test_text_layout_with_bow_features(tmp_path: Path) -> None:
    root = text_folder(tmp_path / "d")
    write(root / "train_v1.txt", ["3 6 2", "0 1:0.5 2:1", "1 5:2", " "])
    write(root / "test_v1.txt", ["0 0:1 7:1", "1 "])  # no header, wider than train
    raw = read_folder(root)
    assert raw.train.features.shape == (3, 8) and raw.test.features.shape == (2, 8)
    assert raw.train.features[0, 2] == 1.0 and raw.test.features[0, 7] == 1.0
    assert raw.train.labels[0] == ["animal", "cat"]  # labels still from the labels file


def test_text_layout_in_single_subfolder(tmp_path: Path) -> None:
    text_folder(tmp_path / "archive" / "EUR-Lex")
    (tmp_path / "archive" / "EUR-Lex.tar.gz").write_bytes(b"x")  # files beside do not matter
    layout = detect_layout(tmp_path / "archive")
    assert layout.kind == LAYOUT_TEXT and layout.root.name == "EUR-Lex"


def test_missing_files_are_listed(tmp_path: Path) -> None:
    root = tmp_path / "d"
    write(root / "train_texts.txt", ["a"])
    write(root / "train_labels.txt", ["x"])
    err = expect_error([str(root), "test_texts.txt", "test_labels.txt"], read_folder, root)
    assert err.line is None
    empty = tmp_path / "empty"
    empty.mkdir()
    expect_error(
        [str(empty), "no dataset files", "train_texts.txt", "X.trn.txt"], read_folder, empty
    )
    expect_error([str(tmp_path / "nope"), "not found"], read_folder, tmp_path / "nope")


def test_mismatched_line_counts_name_both_files(tmp_path: Path) -> None:
    texts = write(tmp_path / "train_texts.txt", ["a", "b", "c"])
    labels = write(tmp_path / "train_labels.txt", ["x", "y", "z", "w"])
    err = expect_error(
        [f"{labels}:4", f"3 lines in {texts}", f"4 lines in {labels}"],
        read_split_files,
        texts,
        labels,
    )
    assert err.line == 4
    ids = write(tmp_path / "ids.txt", ["1", "2"])
    write(tmp_path / "train_labels.txt", ["x", "y", "z"])
    expect_error([f"{texts}:3", f"2 lines in {ids}"], read_split_files, texts, labels, ids_path=ids)


def test_empty_document_is_an_error(tmp_path: Path) -> None:
    texts = write(tmp_path / "train_texts.txt", ["a", "   ", "c"])
    labels = write(tmp_path / "train_labels.txt", ["x", "y", "z"])
    expect_error([f"{texts}:2", "empty document"], read_split_files, texts, labels)
    assert read_split_files(texts, labels, allow_empty=True).texts[1] == "   "


def test_non_utf8_names_line_of_first_bad_byte(tmp_path: Path) -> None:
    texts = tmp_path / "train_texts.txt"
    texts.write_bytes(b"fine\nstill fine\nbad \xff byte\nbad \xfe again\n")
    labels = write(tmp_path / "train_labels.txt", ["x"] * 4)
    expect_error([f"{texts}:3", "not UTF-8", "0xff", "column 5"], read_split_files, texts, labels)


def test_iter_lines_handles_crlf_bom_and_odd_separators(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_bytes("\ufeffone\r\ntwo\x0bstill two\u2028too\nthree".encode())
    assert [line for _, line in iter_lines(path)] == ["one", "two\x0bstill two\u2028too", "three"]


# ---------------------------------------------------------------- ECR sparse BOW


def test_bow_with_header(tmp_path: Path) -> None:
    path = write(tmp_path / "train.txt", ["3 5 4", "0,3 0:0.5 4:1.5", " 2:1", "1 1:1 1:2"])
    bow = read_bow(path)
    assert bow.header == (3, 5, 4)
    assert bow.labels == [["0", "3"], [], ["1"]]
    assert bow.features.dtype == np.float32 and bow.features.shape == (3, 5)
    np.testing.assert_allclose(
        bow.features.toarray(), [[0.5, 0, 0, 0, 1.5], [0, 0, 1, 0, 0], [0, 3, 0, 0, 0]]
    )


def test_bow_without_header_infers_width(tmp_path: Path) -> None:
    bow = read_bow(write(tmp_path / "train.txt", ["2 0:1 9:2e-1", "5,6"]))
    assert bow.header is None
    assert bow.features.shape == (2, 10)
    assert bow.features[0, 9] == pytest.approx(0.2)
    assert bow.labels == [["2"], ["5", "6"]]


def test_bow_parses_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [f"{i} {i}:{i + 1} {i + 1}:0.5" for i in range(7)]
    path = write(tmp_path / "train.txt", lines)
    whole = read_bow(path).features.toarray()
    monkeypatch.setattr("xmcbench.data.bow._BOW_CHUNK", 2)
    np.testing.assert_array_equal(read_bow(path).features.toarray(), whole)
    write(path, [*lines, "1 2:abc"])
    expect_error([f"{path}:8", "2:abc"], read_bow, path)


@pytest.mark.parametrize(
    ("lines", "line", "words"),
    [
        (["1 0:1", "2 3:abc", "3 0:1"], 2, ["'3:abc'", "not a number"]),
        (["1 0:1", "2 3-1"], 2, ["'3-1'", "id:value"]),
        (["1 0:1", "2 -3:1"], 2, ["'-3'", "non-negative"]),
        (["1 0:1", "2 3:1:2"], 2, ["'3:1:2'"]),
        (["1 0:1", "", "2 0:1"], 2, ["empty line"]),
        (["1 0:1", "x,2 0:1"], 2, ["labels 'x,2'"]),
        (["1 0:1", "2 0:nan"], 2, ["not finite"]),
        (["2 4 3", "1 0:1", "2 4:1"], 3, ["feature id 4 out of range", "4 features"]),
        (["2 4 3", "1 0:1", "3 1:1"], 3, ["label id 3 out of range"]),
        (["3 4 3", "1 0:1", "2 1:1"], 1, ["declares 3 documents", "has 2"]),
        (["1 0:1", "2 99999999999999999999999:1"], 2, ["too large"]),
    ],
)
def test_bow_errors_name_file_and_line(
    tmp_path: Path, lines: list[str], line: int, words: list[str]
) -> None:
    path = write(tmp_path / "data_train.txt", lines)
    err = expect_error([f"{path}:{line}:", *words], read_bow, path)
    assert err.line == line


def test_bow_layout_file_names(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    write(plain / "train.txt", ["1 0:1", "2 1:1"])
    write(plain / "test.txt", ["1 1:1"])
    raw = read_folder(plain)
    assert raw.layout == LAYOUT_BOW and raw.train.texts is None and raw.valid is None
    assert raw.train.labels == [["1"], ["2"]] and raw.test.features.shape == (1, 2)

    prefixed = tmp_path / "prefixed"
    write(prefixed / "Eurlex_train.txt", ["2 3 2", "1 0:1", "0 2:1"])
    write(prefixed / "Eurlex_test.txt", ["1 3 2", "0,1 1:1"])
    write(prefixed / "Eurlex_valid.txt", ["1 3 2", "1 1:1"])
    raw = read_folder(prefixed)
    assert raw.layout == LAYOUT_BOW and len(raw.train) == 2 and len(raw.valid) == 1
    assert raw.test.labels == [["0", "1"]]

    lonely = tmp_path / "lonely"
    write(lonely / "Eurlex_train.txt", ["1 0:1"])
    expect_error([str(lonely), "missing Eurlex_test.txt"], read_folder, lonely)


# ---------------------------------------------------------------- PECOS


def pecos_folder(root: Path, *, tfidf: bool = True) -> Path:
    root.mkdir(parents=True)
    write(root / "X.trn.txt", ["first doc", "second doc", "third doc"])
    write(root / "X.tst.txt", ["test doc"])
    y_trn = sp.csr_matrix(np.array([[1, 0, 1], [0, 1, 0], [0, 0, 0]], dtype=np.float32))
    sp.save_npz(root / "Y.trn.npz", y_trn)
    sp.save_npz(root / "Y.tst.npz", sp.csc_matrix(np.array([[0, 0, 0, 1]], dtype=np.float32)))
    if tfidf:
        (root / "tfidf-attnxml").mkdir()
        sp.save_npz(
            root / "tfidf-attnxml" / "X.trn.npz", sp.random(3, 6, 0.5, "csr", random_state=0)
        )
        sp.save_npz(
            root / "tfidf-attnxml" / "X.tst.npz", sp.random(1, 6, 0.5, "csr", random_state=1)
        )
    return root


def test_pecos_layout_in_tarball_folder(tmp_path: Path) -> None:
    pecos_folder(tmp_path / "raw" / "eurlex-4k")
    raw = read_folder(tmp_path / "raw")
    assert raw.layout == LAYOUT_PECOS
    assert raw.train.texts == ["first doc", "second doc", "third doc"]
    assert raw.train.labels == [["0", "2"], ["1"], []]
    assert raw.test.labels == [["3"]]  # CSC input converted; column ids as names
    assert raw.train.features.shape == (3, 6) and raw.test.features.dtype == np.float32
    assert len(raw.files) == 6


def test_pecos_without_tfidf_and_bad_files(tmp_path: Path) -> None:
    root = pecos_folder(tmp_path / "p", tfidf=False)
    assert read_folder(root).train.features is None
    write(root / "X.tst.txt", ["test doc", "extra doc"])
    expect_error(
        [
            f"{root / 'X.tst.txt'}:2",
            f"2 rows in {root / 'X.tst.txt'}",
            f"1 rows in {root / 'Y.tst.npz'}",
        ],
        read_folder,
        root,
    )
    (root / "Y.tst.npz").write_bytes(b"not a zip")
    expect_error([str(root / "Y.tst.npz"), "not a scipy sparse"], read_folder, root)
    (root / "Y.tst.npz").unlink()
    expect_error([str(root), "missing Y.tst.npz"], read_folder, root)


# ---------------------------------------------------------------- absurd ids and widths

ABSURD = 2_147_483_000  # near 2^31: omikuji allocated 8.6 GB for it and died with SIGABRT


@pytest.mark.parametrize(
    ("lines", "line", "words"),
    [
        (
            ["1 0:1 5:0.5", f"2 2:1 {ABSURD}:0.3", "3 1:1"],
            2,
            [f"feature id {ABSURD} is absurd for a file of 5 entries", "= 16777216"],
        ),
        (
            [f"3 {ABSURD} 4", "1 0:1", "2 1:1", "3 1:1"],
            1,
            [f"header declares {ABSURD} features, absurd for a file of 3 entries"],
        ),
        (["1 0:1", f"2,{ABSURD} 1:1"], 2, [f"label id {ABSURD} is absurd for a file of 3 entries"]),
        (
            [f"2 4 {ABSURD}", "1 0:1", f"2,{ABSURD - 1} 1:1"],
            3,
            [f"label id {ABSURD - 1} is absurd"],
        ),
    ],
)
def test_absurd_ids_are_rejected_naming_the_line(
    tmp_path: Path, lines: list[str], line: int, words: list[str]
) -> None:
    path = write(tmp_path / "train.txt", lines)
    err = expect_error([f"{path}:{line}: ", *words], read_bow, path)
    assert err.line == line


def test_id_bound_admits_real_datasets_and_grows_with_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a two-document test file may use a real dataset's whole id space (Wikipedia-500K's
    # 2,381,304 features, Amazon-3M's 2,812,281 labels): the 2^24 floor admits it
    small = read_bow(write(tmp_path / "test.txt", ["7 2381303:1", "2812280 0:1"]))
    assert small.features.shape == (2, 2381304) and small.labels == [["7"], ["2812280"]]
    assert read_bow(write(tmp_path / "edge.txt", [f"1 {2**24 - 1}:1"])).features.shape[1] == 2**24
    edge = write(tmp_path / "edge.txt", [f"1 {2**24}:1"])
    expect_error([f"{edge}:1: feature id {2**24} is absurd"], read_bow, edge)
    monkeypatch.setattr("xmcbench.data.textfiles._ID_FLOOR", 10)  # past the floor: 50 ids per entry
    grow = write(tmp_path / "grow.txt", ["1 0:1", "2 1:1", "3 149:1"])
    assert read_bow(grow).features.shape == (3, 150)
    write(grow, ["1 0:1", "2 1:1", "3 150:1"])
    expect_error([f"{grow}:3: feature id 150 is absurd", "3 entries", "= 150;"], read_bow, grow)


def test_pecos_matrices_of_absurd_width_are_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = pecos_folder(tmp_path / "p")
    tfidf = root / "tfidf-attnxml" / "X.tst.npz"
    sp.save_npz(tfidf, sp.csr_matrix(([1.0], ([0], [ABSURD - 1])), shape=(1, ABSURD)))
    expect_error(
        [f"{tfidf}: {ABSURD} columns are absurd for a file of 1 entries"], read_folder, root
    )
    (root / "tfidf-attnxml" / "X.tst.npz").unlink()
    (root / "tfidf-attnxml" / "X.trn.npz").unlink()
    monkeypatch.setattr("xmcbench.data.textfiles._ID_FLOOR", 100)
    sp.save_npz(root / "Y.tst.npz", sp.csr_matrix(([1.0], ([0], [999])), shape=(1, 1000)))
    expect_error([f"{root / 'Y.tst.npz'}: 1000 columns are absurd"], read_folder, root)
    sp.save_npz(root / "Y.tst.npz", sp.csr_matrix(([1.0], ([0], [99])), shape=(1, 100)))
    assert read_folder(root).test.labels == [["99"]]


def test_run_rejects_an_absurd_feature_id_before_omikuji(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    omikuji = pytest.importorskip("omikuji")

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("omikuji was reached with an absurd feature id")

    monkeypatch.setattr(omikuji.Model, "train_on_data", staticmethod(never))
    data = tmp_path / "absurd-ids"
    write(data / "train.txt", ["0 0:1 5:0.5", f"1 2:1 {ABSURD}:0.3", "0,1 1:1"])
    write(data / "test.txt", ["0 1:1"])
    results = tmp_path / "results"
    code = main(["run", "parabel", "--dataset", str(data), "--results", str(results), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    where = f"error: {data / 'train.txt'}:2: "
    assert err.startswith(f"{where}feature id {ABSURD} is absurd for a file of 5 entries (")
    assert err.count("\n") == 1
    assert not list(results.glob("**/*.json"))


# ---------------------------------------------------------------- empty files


@pytest.mark.parametrize(
    "name",
    [
        "train_texts.txt",
        "train_labels.txt",
        "test_texts.txt",
        "test_labels.txt",
        "valid_texts.txt",
        "valid_labels.txt",
    ],
)
def test_an_empty_split_file_is_named(tmp_path: Path, name: str) -> None:
    root = text_folder(tmp_path / "d", valid=True)
    (root / name).write_text("")
    err = expect_error([f"{root / name}: no documents (the file is empty)"], read_folder, root)
    assert err.line is None


def test_empty_bow_and_pecos_files_are_named(tmp_path: Path) -> None:
    path = write(tmp_path / "train.txt", [])
    expect_error([f"{path}: no documents (the file is empty)"], read_bow, path)
    write(path, ["0 5 3"])
    expect_error([f"{path}: no documents (the file holds only its header)"], read_bow, path)
    root = pecos_folder(tmp_path / "p", tfidf=False)
    write(root / "X.tst.txt", [])
    expect_error([f"{root / 'X.tst.txt'}: no documents (the file is empty)"], read_folder, root)


def test_run_on_an_empty_training_file_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "empty-train"
    write(data / "train_texts.txt", [])
    write(data / "train_labels.txt", [])
    write(data / "test_texts.txt", ["a cat"])
    write(data / "test_labels.txt", ["cat"])
    code = main(["run", "popularity", "--dataset", str(data), "--results", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"error: {data / 'train_texts.txt'}: no documents (the file is empty)\n"
