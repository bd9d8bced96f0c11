"""Unpacking untrusted dataset archives: nothing escapes the target, no bomb fills the disk.

Every crafted archive is built here, in the test. The unsafe ones are unpacked into a target seven
folders below tmp_path (so a file that escapes "six levels up", as the CVE-2025-4517 pattern
does, still lands inside tmp_path where the snapshot sees it), and each test checks that the
whole of tmp_path is exactly as before: nothing written outside, the target not half-populated,
no temporary folder left behind.
"""

from __future__ import annotations

import bz2
import gzip
import io
import os
import shutil
import stat
import struct
import tarfile
import time
import warnings
import zipfile
import zlib
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import run_cli

from xmcbench.data import archives
from xmcbench.data import download as dl
from xmcbench.errors import DataFormatError, XMCBenchError
from xmcbench.registry import DatasetSpec, Source

MiB = 1 << 20
TooLarge = archives.ArchiveTooLargeError
GiB = 1 << 30

# ----------------------------------------------------------------------------- builders

Member = tuple[tarfile.TarInfo, bytes | None]


def t_file(name: str, data: bytes = b"evil\n") -> Member:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def t_dir(name: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info, None


def t_link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> Member:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def t_special(name: str, kind: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info, None


def write_tar(path: Path, members: list[Member], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


STEPS = "abcdefghijklmnop"
LONG_DIR = "d" * 247
LONG_LINK = "/".join(STEPS) + "/" + "l" * 254
ESCAPE_UPS = 6


def path_max_tar() -> list[Member]:
    """CVE-2025-4517: a symlink chain whose resolved path overflows PATH_MAX.

    16 nested folders of 247-character names with a one-letter symlink to each, a long link
    through those symlinks back up 16 levels, then `escape -> <long link>/../../../../../..` and
    a file under `escape/`. Read lexically every link stays inside (the old member checks pass);
    os.path.realpath gives up past PATH_MAX, so tarfile's filter="data" passes it too (Python
    3.11); the kernel resolves it for real: the file lands six levels above the target.
    """
    members: list[Member] = []
    prefix = ""
    for step in STEPS:
        members.append(t_dir(prefix + LONG_DIR))
        members.append(t_link(prefix + step, LONG_DIR))
        prefix += LONG_DIR + "/"
    members.append(t_link(LONG_LINK, "../" * len(STEPS)))
    members.append(t_link("escape", LONG_LINK + "/.." * ESCAPE_UPS))
    members.append(t_file("escape/pwned.txt", b"pwned\n"))
    return members


# zip: (name, data, unix mode); a symlink's data is its target, as Info-ZIP stores it
ZipEntry = tuple[str, bytes, int]


def z_file(name: str, data: bytes = b"evil\n") -> ZipEntry:
    return name, data, stat.S_IFREG | 0o644


def z_dir(name: str) -> ZipEntry:
    return name.rstrip("/") + "/", b"", stat.S_IFDIR | 0o755


def z_link(name: str, target: str) -> ZipEntry:
    return name, target.encode(), stat.S_IFLNK | 0o777


def write_zip(path: Path, entries: list[ZipEntry]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names, on purpose
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zipped:
            for name, data, mode in entries:
                info = zipfile.ZipInfo(name)
                info.create_system = 3  # unix: external_attr carries the mode
                info.external_attr = mode << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zipped.writestr(info, data)
    return path


def path_max_zip() -> list[ZipEntry]:
    entries: list[ZipEntry] = []
    prefix = ""
    for step in STEPS:
        entries.append(z_dir(prefix + LONG_DIR))
        entries.append(z_link(prefix + step, LONG_DIR))
        prefix += LONG_DIR + "/"
    entries.append(z_link(LONG_LINK, "../" * len(STEPS)))
    entries.append(z_link("escape", LONG_LINK + "/.." * ESCAPE_UPS))
    entries.append(z_file("escape/pwned.txt", b"pwned\n"))
    return entries


def zeros_tar(path: Path, size: int, compress: Callable[[bytes], bytes], chunk: int) -> Path:
    """A tar of one member, `size` zero bytes, built in a blink without ever holding it.

    gzip and bzip2 files may be several compressed streams back to back (tarfile reads them as
    one), so one compressed chunk of zeros repeated makes the body: a 1 GiB member in ~1 MB
    (gzip) or ~1 KB (bzip2) of genuine, fully decodable archive.
    """
    assert size % chunk == 0
    header = tarfile.TarInfo("zeros.bin")
    header.size = size
    zeros = compress(bytes(chunk))
    with open(path, "wb") as out:
        out.write(compress(header.tobuf(tarfile.PAX_FORMAT)))
        for _ in range(size // chunk):
            out.write(zeros)
        out.write(compress(bytes(2 * tarfile.BLOCKSIZE)))  # the end-of-archive marker
    return path


def zeros_zip(path: Path, size: int) -> Path:
    """A zip of one deflated member, `size` zero bytes, written without deflating it all.

    A raw deflate stream of 1 MiB of zeros ended by a full flush is byte-aligned and refers to
    nothing before it, so copies of it back to back are a valid stream (ZipFile.open(.., "w")
    would take seconds to deflate a GiB). CRC and headers are the real ones.
    """
    assert size % MiB == 0
    chunk = bytes(MiB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    data = block * (size // MiB) + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc = 0
    for _ in range(size // MiB):
        crc = zlib.crc32(chunk, crc)
    name = b"zeros.bin"
    # flags, method, time, date (1980-01-01), crc, sizes, name and extra-field lengths
    common = (0, zipfile.ZIP_DEFLATED, 0, 0x21, crc, len(data), size, len(name), 0)
    local = struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", 20, 0, *common)
    mode = (stat.S_IFREG | 0o644) << 16  # made on unix (3), a regular file
    central = struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, *common, 0, 0, 0, mode, 0)
    size_cd, offset_cd = len(central) + len(name), len(local) + len(name) + len(data)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, size_cd, offset_cd, 0)
    path.write_bytes(local + name + data + central + name + end)
    return path


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def default_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(archives.RATIO_ENV, raising=False)
    monkeypatch.delenv(archives.BYTES_ENV, raising=False)


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """A target deep below tmp_path, already holding one file (it must stay alone)."""
    folder = tmp_path.joinpath("1", "2", "3", "4", "5", "6", "out")
    folder.mkdir(parents=True)
    (folder / "earlier.txt").write_text("unpacked before\n")
    (tmp_path / "outside").mkdir()
    return folder


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every entry under root (links not followed): kind and size."""
    found: dict[str, tuple[str, int]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            info = path.lstat()
            kind = "link" if stat.S_ISLNK(info.st_mode) else "dir" if path.is_dir() else "file"
            found[path.relative_to(root).as_posix()] = (kind, 0 if kind == "dir" else info.st_size)
    return found


def refused(
    tmp_path: Path,
    extract: Callable[[Path, Path], None],
    archive: Path,
    target: Path,
    member: str | None,
    reason: str,
    error: type[Exception] = dl.UnsafeArchiveError,
) -> str:
    """Unpack, expect `error`; check the message and that tmp_path is exactly as before."""
    before = snapshot(tmp_path)
    with pytest.raises(error) as caught:
        extract(archive, target)
    message = str(caught.value)
    assert "\n" not in message
    assert f"refusing to unpack {archive.name}: " in message
    if member is not None:
        assert f"member {member!r}" in message
    assert reason in message
    assert snapshot(tmp_path) == before  # nothing outside, target untouched, no temp left
    return message


# ----------------------------------------------------------------------------- unsafe tars

UNSAFE_TARS: dict[str, tuple[list[Member], str, str]] = {
    # case: (members, refused member, words in the reason)
    "path-max-symlink-chain": (path_max_tar(), "a", "symlink"),
    "dotdot": ([t_file("ok.txt"), t_file("../x")], "../x", "'..'"),
    "dotdot-nested": ([t_file("a/../../x")], "a/../../x", "'..'"),
    "dotdot-harmless-looking": ([t_file("a/../x")], "a/../x", "'..'"),
    "absolute": ([t_file("/abs/x")], "/abs/x", "absolute path"),
    "backslash": ([t_file("..\\x")], "..\\x", "backslash"),
    "drive-letter": ([t_file("C:/x")], "C:/x", "drive letter"),
    "symlink-out": ([t_link("data/link", "../../../outside")], "data/link", "pointing outside"),
    "symlink-absolute": ([t_link("link", "/etc")], "link", "symlink pointing outside"),
    "symlink-inside": (
        [t_file("data/real.txt", b"abc"), t_link("data/alias.txt", "real.txt")],
        "data/alias.txt",
        "never need links",
    ),
    "symlinks-chained": (
        [t_link("sub", "."), t_link("sub/up", ".."), t_file("sub/up/evil.txt")],
        "sub",
        "symlink",
    ),
    "dir-symlink-then-file": (
        [t_link("d", "../../../../../../../outside"), t_file("d/evil.txt")],
        "d",
        "symlink pointing outside",
    ),
    "dir-symlink-inside-then-file": (
        [t_dir("real"), t_link("d", "real"), t_file("d/evil.txt")],
        "d",
        "symlink",
    ),
    "hardlink-out": ([t_link("hl", "../x", tarfile.LNKTYPE)], "hl", "hard link pointing outside"),
    "hardlink-inside": (
        [t_file("ok.txt"), t_link("alias", "ok.txt", tarfile.LNKTYPE)],
        "alias",
        "hard link",
    ),
    "char-device": ([t_special("dev", tarfile.CHRTYPE)], "dev", "device"),
    "block-device": ([t_special("blk", tarfile.BLKTYPE)], "blk", "device"),
    "fifo": ([t_special("fifo", tarfile.FIFOTYPE)], "fifo", "FIFO"),
    "duplicate": ([t_file("a.txt"), t_file("a.txt")], "a.txt", "appears twice"),
    "file-under-a-file": ([t_file("a"), t_file("a/b")], "a/b", "under a member that is a file"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE_TARS))
def test_unsafe_tar_is_refused_whole_and_nothing_is_written(tmp_path, target, case):
    members, member, reason = UNSAFE_TARS[case]
    archive = write_tar(tmp_path / "toy.tar.gz", [t_file("first.txt", b"ok\n"), *members])
    refused(tmp_path, dl.extract_tar, archive, target, member, reason)
    assert not any(tmp_path.rglob("pwned.txt")) and not any(tmp_path.rglob("evil.txt"))


def test_path_max_archive_is_the_real_thing(tmp_path, target):
    """Its links all pass a lexical check, and tarfile's own filter="data" is no defence.

    On this project's Python (3.11.7) extractall(filter="data") writes the file six levels above
    the target; Pythons with the CVE-2025-4517 fix refuse it. Either way: not relied upon.
    """
    for info, _ in path_max_tar():
        if info.issym():
            joined = os.path.normpath(os.path.join(os.path.dirname(info.name), info.linkname))
            assert not joined.startswith("..")
    archive = write_tar(tmp_path / "toy.tar.gz", path_max_tar())
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
    except tarfile.FilterError:
        return  # a patched Python
    assert (target.parents[ESCAPE_UPS - 1] / "pwned.txt").read_bytes() == b"pwned\n"  # escaped


@pytest.mark.parametrize("mode", ["w", "w:bz2", "w:xz"])
def test_path_max_chain_is_refused_in_every_tar_compression(tmp_path, target, mode):
    archive = write_tar(tmp_path / "toy.tar", path_max_tar(), mode)
    refused(tmp_path, dl.extract_tar, archive, target, "a", "never need links")


def test_long_names_in_a_message_are_shortened_to_one_readable_line(tmp_path, target):
    archive = write_tar(tmp_path / "toy.tar.gz", [t_link("x", LONG_LINK)])
    message = refused(tmp_path, dl.extract_tar, archive, target, "x", "symlink")
    assert len(message) < 400


# ----------------------------------------------------------------------------- unsafe zips

UNSAFE_ZIPS: dict[str, tuple[list[ZipEntry], str, str]] = {
    "path-max-symlink-chain": (path_max_zip(), "a", "symlink"),
    "dotdot": ([z_file("../x")], "../x", "'..'"),
    "dotdot-nested": ([z_file("a/../../x")], "a/../../x", "'..'"),
    "absolute": ([z_file("/abs/x")], "/abs/x", "absolute path"),
    "backslash-dotdot": ([z_file("..\\x")], "..\\x", "backslash"),
    "drive-letter": ([z_file("C:/x")], "C:/x", "drive letter"),
    "symlink-out": ([z_link("link", "../../../outside")], "link", "symlink"),
    "symlink-inside": ([z_file("real.txt"), z_link("alias.txt", "real.txt")], "alias.txt", "link"),
    "symlinks-chained": (
        [z_link("sub", "."), z_link("sub/up", ".."), z_file("sub/up/evil.txt")],
        "sub",
        "symlink",
    ),
    "dir-symlink-then-file": (
        [z_link("d", "../../../../../../../outside"), z_file("d/evil.txt")],
        "d",
        "symlink",
    ),
    "char-device": ([("dev", b"", stat.S_IFCHR | 0o644)], "dev", "device"),
    "fifo": ([("fifo", b"", stat.S_IFIFO | 0o644)], "fifo", "special file"),
    "duplicate": ([z_file("a.txt"), z_file("a.txt")], "a.txt", "appears twice"),
    "file-under-a-file": ([z_file("a"), z_file("a/b")], "a/b", "under a member that is a file"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE_ZIPS))
def test_unsafe_zip_is_refused_whole_and_nothing_is_written(tmp_path, target, case):
    entries, member, reason = UNSAFE_ZIPS[case]
    archive = write_zip(tmp_path / "toy.zip", [z_file("first.txt", b"ok\n"), *entries])
    refused(tmp_path, dl.extract_zip, archive, target, member, reason)
    assert not any(tmp_path.rglob("pwned.txt")) and not any(tmp_path.rglob("evil.txt"))


@pytest.mark.parametrize(
    "name",
    ["", "a\x00b", "/x", "//server/share/x", "C:x", "c:\\x", "..\\..\\x", "a/..", "../x", ".."],
)
def test_unsafe_names(name):
    assert archives._unsafe_name(name) is not None


@pytest.mark.parametrize("name", ["a", "a/b.txt", "./a/b", "a//b", "a/./b", "...", "a..b/c.."])
def test_safe_names(name):
    assert archives._unsafe_name(name) is None


# ----------------------------------------------------------------------------- what works


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_plain_tar_unpacks_files_and_folders_merging_into_the_target(tmp_path, target, mode):
    archive = write_tar(
        tmp_path / "toy.tar",
        [
            t_dir("./"),
            t_dir("./toy"),
            t_file("./toy/X.trn.txt", b"train\n"),
            t_file("toy/sub/deep.txt", b"deep\n"),  # its folder has no member of its own
            t_dir("toy/empty"),
            t_dir("toy/sub"),  # a folder listed after its content
        ],
        mode,
    )
    dl.extract_tar(archive, target)
    assert (target / "toy" / "X.trn.txt").read_bytes() == b"train\n"
    assert (target / "toy" / "sub" / "deep.txt").read_bytes() == b"deep\n"
    assert (target / "toy" / "empty").is_dir()
    assert (target / "earlier.txt").is_file()
    assert sorted(p.name for p in target.parent.iterdir()) == ["out"]  # no temporary left


def test_zip_unpacks_and_a_second_archive_merges_into_the_same_folder(tmp_path, target):
    first = write_zip(tmp_path / "a.zip", [z_dir("toy"), z_file("toy/train.txt", b"t\n")])
    second = write_tar(tmp_path / "b.tar.gz", [t_file("toy/test.txt", b"s\n")])
    dl.extract_zip(first, target)
    dl.extract_tar(second, target)
    assert (target / "toy" / "train.txt").read_bytes() == b"t\n"
    assert (target / "toy" / "test.txt").read_bytes() == b"s\n"


def test_a_file_already_unpacked_from_another_archive_is_not_overwritten(tmp_path, target):
    dl.extract_tar(write_tar(tmp_path / "a.tar.gz", [t_file("toy/x.txt", b"first\n")]), target)
    archive = write_tar(tmp_path / "b.tar.gz", [t_file("toy/new.txt"), t_file("toy/x.txt")])
    refused(tmp_path, dl.extract_tar, archive, target, None, "'toy/x.txt' was already unpacked")
    assert (target / "toy" / "x.txt").read_bytes() == b"first\n"


def test_unpack_for_download_leaves_no_half_populated_files_folder(tmp_path):
    folder = tmp_path.joinpath("home", "datasets", "toy", "raw", "m0")
    folder.mkdir(parents=True)
    write_tar(folder / "good.tar.gz", [t_file("toy/x.txt", b"x\n")])
    write_tar(folder / "toy.tar.gz", path_max_tar())
    files = [Source(url="-", filename=name) for name in ("good.tar.gz", "toy.tar.gz")]
    before = snapshot(tmp_path)
    with pytest.raises(dl.UnsafeArchiveError, match=r"unpack toy\.tar\.gz: member 'a' "):
        dl._unpack(files, folder)
    assert snapshot(tmp_path) == before


def test_download_of_the_path_max_archive_fails_and_writes_nothing(tmp_path):
    source = tmp_path / "served"
    source.mkdir()
    archive = write_tar(source / "toy.tar.gz", path_max_tar())
    home = tmp_path / "home"  # the unpacking folder is home/datasets/toy/raw/m0/<temp>
    spec = DatasetSpec(
        name="toy", sources=(Source(url=archive.as_uri(), filename="toy.tar.gz", name="m0"),)
    )
    with pytest.raises(dl.UnsafeArchiveError, match=r"unpack toy\.tar\.gz: member 'a' "):
        dl.download(spec, home=home, progress=False)
    folder = home / "datasets" / "toy" / "raw" / "m0"
    assert sorted(p.name for p in folder.iterdir()) == ["CHECKSUMS.json", "toy.tar.gz"]
    assert not any(tmp_path.rglob("pwned.txt"))


def _flip_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for index in range(len(data) // 2, len(data) // 2 + 32):
        data[index] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz"])
def test_corrupt_compressed_tar_is_a_format_error_and_writes_nothing(tmp_path, target, mode):
    """Random bytes stay as they are in the compressed stream, so the flip hits data only the
    stream's CRC sees: reading to the end of the stream finds it."""
    archive = write_tar(tmp_path / "toy.tar", [t_file("toy/a.bin", os.urandom(200_000))], mode)
    _flip_middle(archive)
    before = snapshot(tmp_path)
    with pytest.raises(DataFormatError, match="corrupt tar archive") as caught:
        dl.extract_tar(archive, target)
    assert "\n" not in str(caught.value)
    assert snapshot(tmp_path) == before


def test_corrupt_zip_is_a_format_error_and_writes_nothing(tmp_path, target):
    archive = write_zip(tmp_path / "toy.zip", [z_file("toy/a.bin", os.urandom(200_000))])
    _flip_middle(archive)
    before = snapshot(tmp_path)
    with pytest.raises(DataFormatError, match="corrupt zip archive"):
        dl.extract_zip(archive, target)
    assert snapshot(tmp_path) == before


def test_zip_with_a_compression_method_zipfile_cannot_read(tmp_path, target):
    archive = write_zip(tmp_path / "toy.zip", [z_file("toy/a.txt", b"abc" * 100)])
    data = bytearray(archive.read_bytes())
    data[8:10] = struct.pack("<H", 9)  # Deflate64, in the local header and the central one
    central = data.find(b"PK\x01\x02")
    data[central + 10 : central + 12] = struct.pack("<H", 9)
    archive.write_bytes(bytes(data))
    with pytest.raises(DataFormatError, match=r"'toy/a\.txt' uses compression method 9"):
        dl.extract_zip(archive, target)


def test_a_gigabyte_after_the_end_of_a_tar_is_not_read(tmp_path, target):
    """Data after the end-of-archive marker is ignored, as tar does, and not decompressed."""
    archive = zeros_tar(
        tmp_path / "toy.tar.gz", 16 * MiB, lambda d: gzip.compress(d, 9, mtime=0), 16 * MiB
    )
    tail = gzip.compress(bytes(16 * MiB), 9, mtime=0)
    with open(archive, "ab") as out:
        for _ in range(64):  # 1 GiB of zeros after the end marker
            out.write(tail)
    start = time.monotonic()
    dl.extract_tar(archive, target)
    assert time.monotonic() - start < 5.0
    assert (target / "zeros.bin").stat().st_size == 16 * MiB


# ----------------------------------------------------------------------------- bombs


@pytest.mark.parametrize(
    ("suffix", "compress", "chunk"),
    [
        (".tar.gz", lambda data: gzip.compress(data, 9, mtime=0), 16 * MiB),
        (".tar.bz2", bz2.compress, 64 * MiB),
    ],
)
def test_tar_of_1_gib_of_zeros_is_refused_at_once(tmp_path, target, suffix, compress, chunk):
    archive = zeros_tar(tmp_path / f"bomb{suffix}", GiB, compress, chunk)
    assert archive.stat().st_size < 2 * MiB
    with tarfile.open(archive) as tar:
        assert tar.next().size == GiB  # a real tar, and its header tells the truth
    start = time.monotonic()
    message = refused(
        tmp_path,
        dl.extract_tar,
        archive,
        target,
        "zeros.bin",
        "decompression bomb",
        archives.ArchiveTooLargeError,
    )
    assert time.monotonic() - start < 5.0  # refused from the header, nothing decompressed
    assert "1.0 GiB" in message and f"{archives.RATIO_ENV}=" in message


def test_zip_of_1_gib_of_zeros_is_refused_at_once(tmp_path, target):
    archive = zeros_zip(tmp_path / "bomb.zip", GiB)
    assert archive.stat().st_size < 2 * MiB
    with zipfile.ZipFile(archive) as zipped:
        (info,) = zipped.infolist()
        assert info.file_size == GiB
    start = time.monotonic()
    message = refused(
        tmp_path,
        dl.extract_zip,
        archive,
        target,
        "zeros.bin",
        "decompression bomb",
        archives.ArchiveTooLargeError,
    )
    assert time.monotonic() - start < 5.0
    assert f"{archives.RATIO_ENV}=" in message


def test_zip_bomb_builder_makes_a_valid_archive(tmp_path):
    archive = zeros_zip(tmp_path / "small.zip", 3 * MiB)
    with zipfile.ZipFile(archive) as zipped:
        assert zipped.testzip() is None
        assert zipped.read("zeros.bin") == bytes(3 * MiB)


def test_zip64_bomb_written_by_zipfile_is_refused(tmp_path, target):
    archive = tmp_path / "bomb64.zip"
    with (
        zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zipped,
        zipped.open("zeros.bin", "w", force_zip64=True) as out,
    ):
        for _ in range(64):
            out.write(bytes(MiB))
    refused(
        tmp_path,
        dl.extract_zip,
        archive,
        target,
        "zeros.bin",
        "decompression bomb",
        archives.ArchiveTooLargeError,
    )


def test_many_small_members_are_refused_by_their_total_ratio(tmp_path, target):
    """Each member is under the floor where a ratio matters; together they are a bomb."""
    archive = write_zip(tmp_path / "many.zip", [z_file(f"f{i}.bin", bytes(MiB)) for i in range(40)])
    message = refused(
        tmp_path,
        dl.extract_zip,
        archive,
        target,
        None,
        "the archive's size",
        archives.ArchiveTooLargeError,
    )
    assert "decompression bomb" in message


def test_the_ratio_limit_can_be_raised_for_a_real_dataset(tmp_path, target, monkeypatch):
    archive = zeros_tar(
        tmp_path / "zeros.tar.gz", 32 * MiB, lambda d: gzip.compress(d, 9, mtime=0), 16 * MiB
    )
    message = refused(
        tmp_path,
        dl.extract_tar,
        archive,
        target,
        "zeros.bin",
        "bomb",
        archives.ArchiveTooLargeError,
    )
    value = message.split(f"{archives.RATIO_ENV}=")[1].split()[0]
    monkeypatch.setenv(archives.RATIO_ENV, value)
    dl.extract_tar(archive, target)
    assert (target / "zeros.bin").stat().st_size == 32 * MiB


def test_total_size_limit_and_its_override(tmp_path, target, monkeypatch):
    data = os.urandom(2 * MiB)  # incompressible: no ratio alarm
    archive = write_tar(tmp_path / "big.tar.gz", [t_file("a.bin", data), t_file("b.bin", data)])
    monkeypatch.setenv(archives.BYTES_ENV, "3M")
    message = refused(
        tmp_path, dl.extract_tar, archive, target, "b.bin", "limit", archives.ArchiveTooLargeError
    )
    assert f"set {archives.BYTES_ENV}" in message
    monkeypatch.setenv(archives.BYTES_ENV, "1GiB")
    dl.extract_tar(archive, target)
    assert (target / "b.bin").read_bytes() == data


@pytest.mark.parametrize("env", [archives.RATIO_ENV, archives.BYTES_ENV])
def test_bad_limit_values_are_a_clear_error(tmp_path, target, monkeypatch, env):
    archive = write_tar(tmp_path / "ok.tar.gz", [t_file("a.txt")])
    monkeypatch.setenv(env, "lots")
    with pytest.raises(XMCBenchError, match=f"{env} must be"):
        dl.extract_tar(archive, target)


Usage = namedtuple("Usage", "total used free")


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_no_room_on_disk_is_refused_before_writing_anything(tmp_path, target, monkeypatch, kind):
    seen: list[Path] = []

    def disk_usage(path: Any) -> Any:
        seen.append(Path(path))
        return Usage(10 * GiB, 10 * GiB - 5000, 5000)

    monkeypatch.setattr(shutil, "disk_usage", disk_usage)
    files = {"toy/a.txt": b"a" * 3000, "toy/b.txt": b"b" * 3000}
    if kind == "tar":
        archive = write_tar(tmp_path / "toy.tar.gz", [t_file(n, d) for n, d in files.items()])
        extract = dl.extract_tar
    else:
        archive = write_zip(tmp_path / "toy.zip", [z_file(n, d) for n, d in files.items()])
        extract = dl.extract_zip
    message = refused(
        tmp_path,
        extract,
        archive,
        target,
        None,
        "is free on the disk",
        archives.ArchiveTooLargeError,
    )
    assert "XMCBENCH_HOME" in message
    assert seen and all(target.is_relative_to(path) for path in seen)


def _lying_stream(size: int) -> io.BytesIO:
    return io.BytesIO(b"x" * size)


def test_a_tar_member_yielding_more_than_declared_is_cut_off(tmp_path, target, monkeypatch):
    archive = write_tar(tmp_path / "toy.tar.gz", [t_file("toy/a.txt", b"12345")])
    monkeypatch.setattr(tarfile.TarFile, "extractfile", lambda self, m: _lying_stream(10 * MiB))
    refused(
        tmp_path,
        dl.extract_tar,
        archive,
        target,
        "toy/a.txt",
        "holds more than the 5 bytes its header declares",
        archives.ArchiveTooLargeError,
    )


def test_a_zip_member_yielding_more_than_declared_is_cut_off(tmp_path, target, monkeypatch):
    archive = write_zip(tmp_path / "toy.zip", [z_file("toy/a.txt", b"12345")])
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, *a, **k: _lying_stream(10 * MiB))
    refused(
        tmp_path,
        dl.extract_zip,
        archive,
        target,
        "toy/a.txt",
        "holds more than",
        archives.ArchiveTooLargeError,
    )


def test_a_member_shorter_than_declared_is_a_format_error(tmp_path, target, monkeypatch):
    archive = write_tar(tmp_path / "toy.tar.gz", [t_file("toy/a.txt", b"12345")])
    monkeypatch.setattr(tarfile.TarFile, "extractfile", lambda self, m: _lying_stream(2))
    before = snapshot(tmp_path)
    with pytest.raises(DataFormatError, match="ends after 2 of its 5 bytes"):
        dl.extract_tar(archive, target)
    assert snapshot(tmp_path) == before


def test_copy_never_writes_past_the_declared_size(tmp_path):
    out = io.BytesIO()
    with pytest.raises(archives.ArchiveTooLargeError):
        archives._copy_limited(tmp_path / "a.tar", "m", _lying_stream(3 * MiB), out, MiB + 7)
    assert out.tell() <= MiB + 7


# ----------------------------------------------------------------------------- the CLI

PLUGIN = """
import os
from xmcbench import hookimpl
from xmcbench.registry import DatasetSpec, Source

@hookimpl
def register_datasets(register):
    register(DatasetSpec(
        name="toy-remote", title="Toy remote",
        sources=(Source(url=os.environ["TOY_URL"], filename="toy.tar.gz", name="mirror"),),
    ))
"""


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    path = tmp_path / "plugin"
    dist = path / "xmcbench_toy-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: xmcbench-toy\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[xmcbench]\ntoy = xmcbench_toy\n")
    (path / "xmcbench_toy.py").write_text(PLUGIN)
    return path


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("path-max", "error: refusing to unpack toy.tar.gz: member 'a' is a symlink"),
        ("bomb", "error: refusing to unpack toy.tar.gz: member 'zeros.bin' makes it unpack"),
    ],
)
def test_cli_download_of_a_crafted_archive_fails_in_one_line(
    plugin_path, tmp_path, monkeypatch, case, expected
):
    served = tmp_path / "served"
    served.mkdir()
    archive = served / "toy.tar.gz"
    if case == "path-max":
        write_tar(archive, path_max_tar())
    else:
        zeros_tar(archive, GiB, lambda d: gzip.compress(d, 9, mtime=0), 16 * MiB)
    home = tmp_path / "home"  # unpacked under home/datasets/toy-remote/raw/mirror/: six levels
    monkeypatch.setenv("XMCBENCH_HOME", str(home))
    monkeypatch.setenv("TOY_URL", archive.as_uri())
    out = run_cli("datasets", "download", "toy-remote", "--quiet", extra_path=plugin_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith(expected), out.stderr
    assert out.stderr.strip().count("\n") == 0
    folder = home / "datasets" / "toy-remote" / "raw" / "mirror"
    assert sorted(p.name for p in folder.iterdir()) == ["CHECKSUMS.json", "toy.tar.gz"]
    assert not any(tmp_path.rglob("pwned.txt")) and not any(tmp_path.rglob("zeros.bin"))
