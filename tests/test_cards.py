"""Dataset cards: the six paper benchmarks load with the paper's constants; bad cards are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from xmcbench.data import cards
from xmcbench.errors import DataFormatError

# name: (aliases, title, valid_size, (a, b), Table 1 row, TF-IDF dims, Drive id)
EXPECTED = {
    "eurlex-4k": (
        ("eurlex", "eur-lex"),
        "EUR-Lex",
        200,
        (0.55, 1.5),
        (15449, 3865, 186104, 3956, 5.30, 20.79, 1248.58, 1230.40),
        186104,
        "1iPGbr5-z2LogtMFG1rwwekV_aTubvAb2",
    ),
    "wiki10-31k": (
        ("wiki10",),
        "Wiki10-31K",
        200,
        (0.55, 1.5),
        (14146, 6616, 101938, 30938, 18.64, 8.52, 2484.30, 2425.45),
        101938,
        "1Tv4MHQzDWTUC9hRFihRhG8_jt1h0VhnR",
    ),
    "amazoncat-13k": (
        ("amazoncat",),
        "AmazonCat-13K",
        4000,
        (0.55, 1.5),
        (1186239, 306782, 203882, 13330, 5.04, 448.57, 246.61, 245.98),
        203882,
        "1VwHAbri6y6oh8lkpZ6sSY_b1FRNnCLFL",
    ),
    "amazon-670k": (
        ("amazon670k",),
        "Amazon-670K",
        4000,
        (0.6, 2.6),
        (490449, 153025, 135909, 670091, 5.45, 3.99, 247.33, 241.22),
        135909,
        "1Xd4BPFy1RPmE7MEXMu77E2_xWOhR1pHW",
    ),
    "wiki-500k": (
        ("wiki500k",),
        "Wiki-500K",
        4000,
        (0.5, 0.4),
        (1779881, 769421, 2381304, 501008, 4.75, 16.86, 808.66, 808.56),
        2381304,
        "1bGEcCagh8zaDV0ZNGsgF0QtwjcAm0Afk",
    ),
    "amazon-3m": (
        ("amazon3m",),
        "Amazon-3M",
        4000,
        (0.6, 2.6),
        (1717899, 742507, 337067, 2812281, 36.04, 22.02, 104.08, 104.18),
        337067,
        "187vt5vAkGI2mS2WOMZ2Qv48YKSjNbQv4",
    ),
}
STAT_KEYS = (
    "n_train",
    "n_test",
    "n_features",
    "n_labels",
    "avg_labels_per_doc",
    "avg_docs_per_label",
    "avg_words_train",
    "avg_words_test",
)
DATASETS_DIR = Path(__file__).resolve().parents[1] / "datasets"


@pytest.fixture(scope="module")
def builtin() -> dict[str, object]:
    return {spec.name: spec for spec in cards.builtin_cards()}


def test_all_six_cards_load(builtin):
    assert sorted(builtin) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_card_matches_the_paper(builtin, name):
    aliases, title, valid_size, (a, b), row, tfidf, drive_id = EXPECTED[name]
    spec = builtin[name]
    assert spec.aliases == aliases and spec.title == title
    assert spec.valid_size == valid_size
    assert (spec.propensity_a, spec.propensity_b) == (a, b)
    assert tuple(spec.stats[key] for key in STAT_KEYS) == pytest.approx(row)
    assert isinstance(spec.stats["n_train"], int)
    assert spec.stats["n_features_tfidf"] == tfidf
    assert spec.description and "\n" not in spec.description
    assert spec.card is not None and spec.card.name == f"{name}.toml"
    pecos, drive = spec.sources
    assert (pecos.name, pecos.kind, pecos.filename) == ("pecos", "http", f"{name}.tar.gz")
    assert pecos.url == f"https://archive.org/download/pecos-dataset/xmc-base/{name}.tar.gz"
    assert (drive.name, drive.kind, drive.url) == ("attentionxml", "gdrive", drive_id)
    assert pecos.sha256 is None and drive.sha256 is None
    assert pecos.extract and drive.extract


def test_aliases_are_unique_across_cards(builtin):
    keys = [key for spec in builtin.values() for key in (spec.name, *spec.aliases)]
    assert len(keys) == len(set(keys))


def test_cards_are_read_from_package_resources_when_installed(monkeypatch):
    seen = []

    def files(package: str) -> Path:
        seen.append(package)
        return DATASETS_DIR

    monkeypatch.setattr(cards.resources, "files", files)
    assert len(cards.builtin_cards()) == 6
    assert seen == ["xmcbench.cards"]


def test_cards_fall_back_to_the_repo_folder(monkeypatch):
    def missing(package: str) -> Path:
        raise ModuleNotFoundError(package)

    monkeypatch.setattr(cards.resources, "files", missing)
    assert cards.cards_location() == DATASETS_DIR
    assert len(cards.builtin_cards()) == 6


MINIMAL = """
name = "toy"
title = "Toy"
aliases = ["toy-set"]
description = \"\"\"
Two lines
of text.\"\"\"
valid_size = 10
[propensity]
a = 0.5
b = 0.4
[stats]
n_train = 100
[[sources]]
url = "https://example.org/data/toy.tar.gz"
sha256 = "%s"
"""


def write_card(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "toy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_card_defaults(tmp_path):
    spec = cards.load_card(write_card(tmp_path, MINIMAL % ("ab" * 32)))
    assert spec.description == "Two lines of text."
    (source,) = spec.sources
    assert source.filename == "toy.tar.gz" and source.name == "source1"
    assert source.sha256 == "ab" * 32 and source.kind == "http"
    assert spec.card == tmp_path / "toy.toml"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('name = "toy"\n[[sources]\n', "invalid TOML"),
        (MINIMAL.replace('title = "Toy"', 'titel = "Toy"') % "", "unknown key(s) in card: titel"),
        (MINIMAL.replace('name = "toy"', "") % "", "missing required key 'name'"),
        (MINIMAL.replace('name = "toy"', 'name = "Toy Set"') % "", "name 'Toy Set'"),
        (MINIMAL.replace("a = 0.5", 'a = "high"') % "", "[propensity] a must be a number"),
        (MINIMAL.replace("valid_size = 10", "valid_size = -1") % "", "'valid_size'"),
        (MINIMAL.replace("n_train = 100", 'n_train = "many"') % "", "[stats] n_train"),
        (MINIMAL % "not-a-digest", "sha256 must be 64 lowercase hex digits"),
        (MINIMAL.replace("https://", "ftp://") % "", "url must start with http"),
        (MINIMAL.replace('sha256 = "%s"', 'filename = "../x.tgz"'), "plain 'filename'"),
        (MINIMAL.replace('sha256 = "%s"', 'kind = "ftp"'), "kind must be one of"),
        (MINIMAL.replace('sha256 = "%s"', 'mirror = "x"'), "unknown key(s) in [[sources]] #1"),
        (MINIMAL.split("[[sources]]")[0], "at least one [[sources]]"),
        (MINIMAL.replace('["toy-set"]', '["toy"]') % "", "alias 'toy'"),
    ],
)
def test_malformed_card_error_names_the_card(tmp_path, text, problem):
    path = write_card(tmp_path, text)
    with pytest.raises(DataFormatError) as caught:
        cards.load_card(path)
    assert caught.value.path == path
    assert str(path) in str(caught.value) and problem in str(caught.value)


def test_invalid_toml_reports_the_line(tmp_path):
    path = write_card(tmp_path, 'name = "toy"\n\n[[sources]\n')
    with pytest.raises(DataFormatError) as caught:
        cards.load_card(path)
    assert caught.value.line == 3


def test_missing_card_file_is_a_data_format_error(tmp_path):
    with pytest.raises(DataFormatError, match="cannot read card"):
        cards.load_card(tmp_path / "absent.toml")
