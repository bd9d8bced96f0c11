"""Word vectors from GloVe / word2vec text files: matching, random fill, padding, bad lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xmcbench.data.embeddings import load_word_vectors
from xmcbench.errors import DataFormatError

VOCAB = ["<pad>", "<unk>", "the", "apple", "cat", "dog", "/SEP/"]


def glove(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_found_missing_and_padding(tmp_path: Path) -> None:
    path = glove(
        tmp_path / "vec.txt",
        [
            "the 1 2 3",
            "Cat 9 9 9",  # lowercase match, but an exact "cat" comes later and wins
            "Apple 4 5 6",  # only a cased form: used for "apple"
            "cat 7 8 9",
            "zebra 0 0 0",  # not in the vocabulary
            ". -1 -2 -3",  # AttentionXML gives /SEP/ the vector of "."
        ],
    )
    matrix, found = load_word_vectors(path, VOCAB, seed=3, scale=0.05)
    assert matrix.shape == (7, 3) and matrix.dtype == np.float32
    assert found == 4  # the, apple, cat, /SEP/
    np.testing.assert_array_equal(matrix[2], [1, 2, 3])
    np.testing.assert_array_equal(matrix[3], [4, 5, 6])
    np.testing.assert_array_equal(matrix[4], [7, 8, 9])
    np.testing.assert_array_equal(matrix[6], [-1, -2, -3])
    np.testing.assert_array_equal(matrix[0], 0)  # padding
    for row in (1, 5):  # <unk> and dog: small random vectors, reproducible by seed
        assert np.all(np.abs(matrix[row]) <= 0.05) and np.any(matrix[row] != 0)
    again, _ = load_word_vectors(path, VOCAB, seed=3, scale=0.05)
    other, _ = load_word_vectors(path, VOCAB, seed=4, scale=0.05)
    np.testing.assert_array_equal(matrix, again)
    assert not np.array_equal(matrix[5], other[5])


def test_word2vec_header_and_dim(tmp_path: Path) -> None:
    path = glove(tmp_path / "w2v.txt", ["2 2", "the 0.5 0.25", "dog 1e-1 -2"])
    matrix, found = load_word_vectors(path, VOCAB, dim=2)
    assert matrix.shape == (7, 2) and found == 2
    np.testing.assert_allclose(matrix[5], [0.1, -2.0])
    with pytest.raises(DataFormatError, match=rf"{path}:1: header declares 2 dimensions"):
        load_word_vectors(path, VOCAB, dim=3)
    plain = glove(tmp_path / "plain.txt", ["the 1 2"])
    with pytest.raises(DataFormatError, match=rf"{plain}:1: 2 values, expected 5"):
        load_word_vectors(plain, VOCAB, dim=5)


def test_words_with_spaces_are_kept(tmp_path: Path) -> None:
    path = glove(tmp_path / "840b.txt", ["the 1 2", ". . . 3 4", "dog 5 6"])
    matrix, found = load_word_vectors(path, [*VOCAB, ". . ."])
    assert found == 3
    np.testing.assert_array_equal(matrix[7], [3, 4])


@pytest.mark.parametrize(
    ("lines", "line", "words"),
    [
        (["the 1 2 3", "zebra 1 2", "dog 1 2 3"], 2, ["2 values, expected 3"]),
        (["the 1 2 3", "dog 1 2 3 4"], 2, ["4 values, expected 3"]),
        (["the 1 2 3", "zebra 1 2 3", "dog 1 x 3"], 3, ["'x' is not a number"]),
        (["the 1 2 3", "cat 1 nan 3"], 2, ["'nan' is not a number"]),
        (["lonely"], 1, ["without a vector"]),
    ],
)
def test_bad_lines_name_file_and_line(
    tmp_path: Path, lines: list[str], line: int, words: list[str]
) -> None:
    path = glove(tmp_path / "bad.txt", lines)
    with pytest.raises(DataFormatError) as info:
        load_word_vectors(path, VOCAB)
    assert f"{path}:{line}:" in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_missing_or_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="not found"):
        load_word_vectors(tmp_path / "none.txt", VOCAB)
    empty = glove(tmp_path / "empty.txt", [])
    with pytest.raises(DataFormatError, match="empty"):
        load_word_vectors(empty, VOCAB)
    matrix, found = load_word_vectors(empty, VOCAB, dim=4)  # a known size: all random
    assert matrix.shape == (7, 4) and found == 0 and not matrix[0].any()


def test_missing_words_start_like_the_authors(tmp_path: Path) -> None:
    """uniform(-1, 1) per dimension, <unk> never looked up, padding zero, reproducible by seed."""
    path = glove(tmp_path / "vec.txt", ["<unk> 5 5 5 5", "the 1 2 3 4"])
    vocab = ["<pad>", "<unk>", "the", *(f"missing{i}" for i in range(500))]
    matrix, found = load_word_vectors(path, vocab, seed=1)
    assert found == 1
    np.testing.assert_array_equal(matrix[0], 0)
    np.testing.assert_array_equal(matrix[2], [1, 2, 3, 4])
    rest = matrix[[1, *range(3, len(vocab))]]  # (501, 4): <unk> and the missing words
    assert rest.min() >= -1.0 and rest.max() < 1.0
    assert rest.min() < -0.9 and rest.max() > 0.9  # the full range, not a narrow one
    assert abs(float(rest.mean())) < 0.05  # centred
    assert len(np.unique(rest[:, 0])) == len(rest)  # independent draws per word
    np.testing.assert_array_equal(matrix, load_word_vectors(path, vocab, seed=1)[0])


def test_only_vocabulary_vectors_are_parsed(tmp_path: Path, monkeypatch) -> None:
    """The file is streamed: other words' vectors are never parsed (nor kept), even bad ones."""
    from xmcbench.data import embeddings

    lines = [f"other{i} {i} 1 2" for i in range(200)]
    path = glove(tmp_path / "big.txt", [*lines[:100], "dog 7 8 9", "zebra 1 x 3", *lines[100:]])
    parsed: list[bytes] = []
    real = embeddings._parse_vector
    monkeypatch.setattr(
        embeddings, "_parse_vector", lambda *args: parsed.append(args[2]) or real(*args)
    )
    matrix, found = load_word_vectors(path, VOCAB)
    assert found == 1 and parsed == [b"7 8 9"]
    np.testing.assert_array_equal(matrix[5], [7, 8, 9])


def test_progress_bar_goes_to_stderr(tmp_path: Path, capsys) -> None:
    path = glove(tmp_path / "shown.txt", ["the 1 2 3"])
    quiet, _ = load_word_vectors(path, VOCAB, progress=False)
    assert capsys.readouterr() == ("", "")
    shown, _ = load_word_vectors(path, VOCAB, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "reading shown.txt" in err
    np.testing.assert_array_equal(quiet, shown)


def test_glove_init_falls_back_to_ppmi_and_says_how_to_download(monkeypatch):
    """The paper presets ask for "glove": without the download, PPMI-SVD and one clear note."""
    pytest.importorskip("torch")
    from xmcbench.deep import embedding_init

    notes: list[str] = []
    assert embedding_init._downloaded_glove(notes.append) == "ppmi"
    assert "xmcbench embeddings download glove-840b-300d" in notes[0]
    monkeypatch.setattr("xmcbench.data.embeddings.resource_path", lambda name: Path("/g.txt"))
    assert embedding_init._downloaded_glove(notes.append) == "/g.txt"
    assert len(notes) == 1
