"""Loading files safely: crafted files that would read other files, hang, or exhaust memory are refused.

Every crafted file is loaded in a forked child process under an address-space limit (RLIMIT_AS: what
the process already maps plus 512 MiB) and a timeout, so a refusal that does not happen shows up as
a MemoryError, a kill or a timeout instead of a loaded model or a stalled machine.

The marker that nothing outside the named file was read is Linux inotify: after the crafted files
are written and before the child runs, the test watches the "other" files they point to (an HDF5
file, a raw data file, a JSON file) for IN_OPEN and IN_ACCESS. The kernel reports every open and
read of a watched file by any process, so an empty event queue after the child proves no such read.
(Access times are not used: relatime/noatime mounts do not update them reliably.) A link to a FIFO
is its own marker: opening a FIFO for reading blocks until a writer comes, and none ever does, so a
loader that followed it would run into the timeout. Controls show each mechanism fires: plain h5py
following the same crafted links is seen by inotify or blocks on the FIFO, and the memory limit
stops a 6 GiB allocation.

Crafted files stay small on disk: bombs are real deflate streams of zeros (~1 KiB per MiB) or sparse
stored members, and a declared-but-empty dataset stores nothing.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import signal
import struct
import sys
import traceback
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pytest

import gpukeras as keras

pytestmark = [pytest.mark.any_backend,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork, RLIMIT_AS and inotify")]

MEMORY_HEADROOM = 512 << 20
TIMEOUT = 30.0
SIX_GIB = 6 << 30
OTHER_KERNEL = np.full((4, 3), 7.0, "float32")  # what a followed link would load into the kernel


# ---------------------------------------------------------------------- child processes and markers
@dataclass
class Outcome:
    kind: str  # "returned", "raised", "timeout" or "died"
    errors: list[str] = field(default_factory=list)  # the exception's class and its bases
    message: str = ""
    trace: str = ""


def _mapped_bytes() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))


def in_child(fn: Callable[[], object], timeout: float = TIMEOUT) -> Outcome:
    """Run `fn` in a forked child limited to its current address space + MEMORY_HEADROOM; how it ended."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read_end)
        result = {"kind": "returned"}
        try:
            limit = _mapped_bytes() + MEMORY_HEADROOM
            resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
            fn()
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            result = {"kind": "raised", "errors": [c.__name__ for c in type(e).__mro__], "message": str(e),
                      "trace": traceback.format_exc()[-2000:]}
        os.write(write_end, json.dumps(result).encode())
        os._exit(0)
    os.close(write_end)
    try:
        data = b""
        while True:
            ready, _, _ = select.select([read_end], [], [], timeout)
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return Outcome("timeout")
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if not data:
        return Outcome("died", message=f"wait status {status}")
    result = json.loads(data)
    return Outcome(result["kind"], result.get("errors", []), result.get("message", ""), result.get("trace", ""))


class Inotify:
    """Linux inotify watches on files: which of them were opened or read since the watch began."""

    IN_ACCESS, IN_OPEN, IN_NONBLOCK, IN_CLOEXEC = 0x1, 0x20, 0o4000, 0o2000000

    def __init__(self, *paths: Path):
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self._libc.inotify_init1(self.IN_NONBLOCK | self.IN_CLOEXEC)
        if self.fd < 0:
            pytest.skip(f"inotify unavailable (errno {ctypes.get_errno()})")
        self.paths = {}
        for path in paths:
            wd = self._libc.inotify_add_watch(self.fd, os.fsencode(path), self.IN_ACCESS | self.IN_OPEN)
            assert wd >= 0, f"cannot watch {path} (errno {ctypes.get_errno()})"
            self.paths[wd] = Path(path).name

    def touched(self) -> list[str]:
        """Names of the watched files opened or read so far (each event once)."""
        found = []
        while True:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return found
            offset = 0
            while offset < len(data):
                wd, mask, _, length = struct.unpack_from("iIII", data, offset)
                offset += 16 + length
                found.append(f"{self.paths.get(wd, wd)}:{'open' if mask & self.IN_OPEN else 'read'}")

    def close(self) -> None:
        os.close(self.fd)


# ---------------------------------------------------------------------- the files
def _model() -> keras.Model:
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="dense")], name="victim")


@dataclass
class Others:
    """Files outside the model file that crafted files point to; `watch()` observes them."""

    h5: Path
    raw: Path
    json: Path
    fifo: Path

    def watch(self) -> Inotify:
        return Inotify(self.h5, self.raw, self.json, self.fifo)


@pytest.fixture
def others(tmp_path) -> Others:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    with h5py.File(folder / "other.h5", "w") as f:
        f["w"] = OTHER_KERNEL
        f.create_group("g")["0"] = OTHER_KERNEL  # a whole `vars` group for the dense layer
        f["g"]["1"] = np.zeros(3, "float32")
    OTHER_KERNEL.tofile(folder / "raw.bin")
    (folder / "other.json").write_text("{}")
    os.mkfifo(folder / "fifo.h5")
    return Others(folder / "other.h5", folder / "raw.bin", folder / "other.json", folder / "fifo.h5")


@dataclass(frozen=True)
class Container:
    """One way a model's weights reach an HDF5 reader: where the kernel and its group sit, and how to load."""

    name: str
    suffix: str
    kernel: str  # the kernel dataset's path in the HDF5 file
    group: str  # the group holding it (Keras 3: `vars`; tf.keras 2: the layer's group)

    def save(self, path: Path) -> None:
        model = _model()
        model.save_weights(path) if self.name == "weights.h5" else model.save(path)

    def load(self, path: Path) -> Callable[[], object]:
        if self.name == "weights.h5":
            return lambda: _model().load_weights(path)
        return lambda: keras.models.load_model(path)


CONTAINERS = [Container("weights.h5", ".weights.h5", "layers/dense/vars/0", "layers/dense/vars"),
              Container("legacy.h5", ".h5", "model_weights/dense/dense/kernel:0", "model_weights/dense"),
              Container("keras", ".keras", "layers/dense/vars/0", "layers/dense/vars")]


def _attack(kind: str, f: h5py.File, container: Container, others: Others) -> None:
    """Replace the kernel (or its group) in an open HDF5 file with the crafted `kind`."""
    kernel, group = container.kernel, container.group
    if kind in ("fifo_link", "group_external_link"):
        del f[group]
        target = others.fifo if kind == "fifo_link" else others.h5
        f[group] = h5py.ExternalLink(str(target), "/g")
        return
    del f[kernel]
    if kind == "external_link":
        f[kernel] = h5py.ExternalLink(str(others.h5), "/w")
    elif kind == "self_link":
        f[kernel] = h5py.SoftLink(f"/{kernel}")
    elif kind == "external_storage":
        f.create_dataset(kernel, (4, 3), "float32", external=[(str(others.raw), 0, OTHER_KERNEL.nbytes)])
    elif kind == "virtual":
        layout = h5py.VirtualLayout((4, 3), "float32")
        layout[...] = h5py.VirtualSource(str(others.h5), "w", (4, 3))
        f.create_virtual_dataset(kernel, layout, fillvalue=0)
    elif kind == "declared_empty":
        f.create_dataset(kernel, (SIX_GIB // 4,), "float32", chunks=(1 << 16,))  # 6 GiB declared, none stored
    elif kind == "compound_dtype":
        f.create_dataset(kernel, (4, 3), [("a", "f8", (1024,))])
    else:
        raise AssertionError(kind)


def _edit_h5(path: Path, container: Container, edit: Callable[[h5py.File], None]) -> None:
    """Apply `edit` to the HDF5 file at `path`, or to the weights inside a `.keras` zip."""
    if container.name != "keras":
        with h5py.File(path, "r+") as f:
            edit(f)
        return
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    inner = path.with_name("inner.h5")
    inner.write_bytes(members["model.weights.h5"])
    with h5py.File(inner, "r+") as f:
        edit(f)
    members["model.weights.h5"] = inner.read_bytes()
    inner.unlink()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _crafted(tmp_path: Path, container: Container, kind: str, others: Others) -> Path:
    path = tmp_path / f"crafted_{kind}{container.suffix}"
    container.save(path)
    _edit_h5(path, container, lambda f: _attack(kind, f, container, others))
    return path


def _assert_refused(outcome: Outcome, *fragments: str) -> None:
    assert outcome.kind == "raised", outcome
    assert "ValueError" in outcome.errors, outcome
    for fragment in fragments:
        assert fragment in outcome.message, (fragment, outcome.message)


# ---------------------------------------------------------------------- the HDF5 readers
H5_CASES = {  # kind -> fragments the error names: the object and the rule
    "external_link": ("/vars/0", "an external link", "link rule"),
    "group_external_link": ("vars", "an external link", "link rule"),
    "fifo_link": ("vars", "an external link", "link rule"),
    "self_link": ("/vars/0", "a soft link", "link rule"),
    "external_storage": ("/vars/0", "external storage rule"),
    "virtual": ("/vars/0", "virtual dataset rule"),
    "declared_empty": ("vars/0", "(1610612736,)"),
    "compound_dtype": ("/vars/0", "dtype rule"),
}
LEGACY_FRAGMENTS = {"external_link": ("kernel:0",), "self_link": ("kernel:0",), "external_storage": ("kernel:0",),
                    "virtual": ("kernel:0",), "declared_empty": ("kernel:0",), "compound_dtype": ("kernel:0",),
                    "group_external_link": ("/model_weights/dense",), "fifo_link": ("/model_weights/dense",)}


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda c: c.name)
@pytest.mark.parametrize("kind", list(H5_CASES))
def test_crafted_hdf5_is_refused_without_reading_elsewhere(tmp_path, others, container, kind):
    path = _crafted(tmp_path, container, kind, others)
    fragments = H5_CASES[kind]
    if container.name == "legacy.h5":
        fragments = tuple(f for f in fragments if "vars" not in f) + LEGACY_FRAGMENTS[kind]
    watch = others.watch()
    try:
        outcome = in_child(container.load(path))
        _assert_refused(outcome, path.name, *fragments)
        assert watch.touched() == []  # no other file was opened or read
    finally:
        watch.close()


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda c: c.name)
def test_untouched_files_load_in_the_child_and_touch_nothing(tmp_path, others, container):
    """The control for the harness: the same files, not crafted, load under the same limits."""
    path = tmp_path / f"fine{container.suffix}"
    container.save(path)
    watch = others.watch()
    try:
        assert in_child(container.load(path)).kind == "returned"
        assert watch.touched() == []
    finally:
        watch.close()


@pytest.mark.parametrize("kind", ["external_link", "external_storage", "virtual"])
def test_marker_sees_plain_h5py_read_the_other_file(tmp_path, others, kind):
    """The control for the marker: following the crafted file with plain h5py reads the other file."""
    container = CONTAINERS[0]
    path = _crafted(tmp_path, container, kind, others)

    def follow() -> None:
        with h5py.File(path, "r") as f:
            np.testing.assert_array_equal(f[container.kernel][()], OTHER_KERNEL)

    watch = others.watch()
    try:
        assert in_child(follow).kind == "returned"
        assert watch.touched(), "inotify saw nothing: the marker would miss a read"
    finally:
        watch.close()


def test_fifo_link_blocks_plain_h5py(tmp_path, others):
    """The control for the FIFO: plain h5py following the link waits for ever (here: until the timeout)."""
    container = CONTAINERS[0]
    path = _crafted(tmp_path, container, "fifo_link", others)

    def follow() -> None:
        with h5py.File(path, "r") as f:
            f[container.kernel]

    assert in_child(follow, timeout=1.0).kind == "timeout"


def test_memory_limit_stops_a_6_gib_allocation():
    """The control for the memory limit: what a bomb would allocate fails in the child."""
    outcome = in_child(lambda: np.ones(SIX_GIB, np.uint8))
    assert outcome.kind == "raised" and "MemoryError" in outcome.errors, outcome


class ReadsDirectly(keras.layers.Layer):
    """A custom layer that reads its stored value itself (as an array) instead of through assign."""

    def build(self, input_shape):
        self.w = self.add_weight((4, 3), "zeros", name="w")

    def call(self, x):
        return x

    def load_own_variables(self, store):
        self.w.assign(np.asarray(store["0"]) * 1.0)


def test_custom_layer_reading_a_declared_empty_dataset_is_bounded(tmp_path):
    """A custom load_own_variables that reads the value itself still cannot allocate what a dataset declares."""
    def model():
        return keras.Sequential([keras.Input((4,)), ReadsDirectly(name="reads")])

    path = tmp_path / "custom.weights.h5"
    model().save_weights(path)
    with h5py.File(path, "r+") as f:
        del f["layers/reads_directly/vars/0"]
        f.create_dataset("layers/reads_directly/vars/0", (SIX_GIB // 4,), "float32", chunks=(1 << 16,))
    outcome = in_child(lambda: model().load_weights(path))
    _assert_refused(outcome, path.name, "/layers/reads_directly/vars/0", "dataset size rule")


def test_legacy_model_config_nested_too_deep(tmp_path):
    path = tmp_path / "deep.h5"
    _model().save(path)
    with h5py.File(path, "r+") as f:
        f.attrs["model_config"] = "[" * 100_000 + "]" * 100_000
    _assert_refused(in_child(lambda: keras.models.load_model(path)), path.name, "model_config", "nesting")


# ---------------------------------------------------------------------- the .keras archive
@dataclass
class Member:
    """A zip member written by hand: `payload` as stored, declaring `size` bytes once inflated."""

    name: str
    payload: bytes
    size: int
    method: int = zipfile.ZIP_STORED
    crc: int = 0
    hole: int = 0  # stored bytes left as a sparse hole after the payload


def _deflated_zeros(mib: int) -> bytes:
    """A raw deflate stream of `mib` MiB of zeros, about 1 KiB per MiB (fully flushed blocks repeat)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = bytes(1 << 20)
    first = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    return first + again * (mib - 1) + c.flush()


def _crc_of_zeros(mib: int) -> int:
    crc, block = 0, bytes(1 << 20)
    for _ in range(mib):
        crc = zlib.crc32(block, crc)
    return crc


def _bomb(name: str, mib: int, crc: bool = True) -> Member:
    return Member(name, _deflated_zeros(mib), mib << 20, zipfile.ZIP_DEFLATED, _crc_of_zeros(mib) if crc else 0)


def _write_zip(path: Path, members: list[Member]) -> None:
    """A zip as `zipfile` reads it, with sizes as declared (zip64 fields where they need them)."""
    central, offset = b"", 0
    with open(path, "wb") as f:
        for m in members:
            stored, name = len(m.payload) + m.hole, m.name.encode()
            big = m.size >= 0xFFFFFFFF or stored >= 0xFFFFFFFF
            extra = struct.pack("<HHQQ", 1, 16, m.size, stored) if big else b""
            sizes = (0xFFFFFFFF, 0xFFFFFFFF) if big else (stored, m.size)
            f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, m.method, 0, 0x21, m.crc, *sizes, len(name),
                                len(extra)) + name + extra + m.payload)
            f.seek(m.hole, os.SEEK_CUR)
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, m.method, 0, 0x21, m.crc, *sizes,
                                   len(name), len(extra), 0, 0, 0, 0, offset) + name + extra
            offset = f.tell()
        f.write(central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                                      offset, 0))


def _real_members(tmp_path: Path) -> dict[str, bytes]:
    _model().save(tmp_path / "source.keras")
    with zipfile.ZipFile(tmp_path / "source.keras") as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _plain(name: str, data: bytes) -> Member:
    return Member(name, data, len(data), crc=zlib.crc32(data))


def _with_config(config: dict, edit: Callable[[dict], None]) -> bytes:
    edit(config)
    return json.dumps(config).encode()


def _numpy_in_layer(value: object, dtype: str) -> Callable[[dict], None]:
    def edit(config: dict) -> None:
        config["config"]["layers"][0]["config"]["extra"] = {"class_name": "__numpy__",
                                                            "config": {"value": value, "dtype": dtype}}
    return edit


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def _archive_case(kind: str, real: dict[str, bytes]) -> tuple[list[Member], tuple[str, ...]]:
    """The members of a crafted `.keras` file, and the fragments its refusal names."""
    config = json.loads(real["config.json"])
    replace: dict[str, Member] = {}
    extra: list[Member] = []
    if kind == "config_bomb":  # 256 MiB of zeros in 256 KiB
        replace["config.json"], expect = _bomb("config.json", 256), ("config.json", "member size rule")
    elif kind == "weights_bomb_6gib":  # Keras 3's own rule: over 4 GiB and 100x
        replace["model.weights.h5"] = _bomb("model.weights.h5", 6 << 10, crc=False)
        expect = ("model.weights.h5", "decompression bomb")
    elif kind == "weights_bomb_256mib":  # under Keras 3's 4 GiB floor, over what this model can need
        replace["model.weights.h5"] = _bomb("model.weights.h5", 256)
        expect = ("model.weights.h5", "what the model can need", "member size rule")
    elif kind == "oversize_asset":  # 1 GiB stored, named for the dense layer, sparse on disk
        extra.append(Member("assets/layers/dense/vocabulary.txt", b"", 1 << 30, hole=1 << 30))
        expect = ("assets/layers/dense/vocabulary.txt", "member size rule")
    elif kind == "stray_asset":
        extra.append(_plain("assets/elsewhere/notes.txt", b"hello"))
        expect = ("assets/elsewhere/notes.txt", "not named for any layer", "unexpected member rule")
    elif kind == "stray_member":
        extra.append(_plain("payload.bin", b"\0" * 64))
        expect = ("payload.bin", "unexpected member rule")
    elif kind == "duplicate_config":
        extra.append(_plain("config.json", b"{}"))
        expect = ("config.json", "duplicate member rule")
    elif kind == "nested_json":
        replace["config.json"] = _plain("config.json", b"[" * 100_000 + b"]" * 100_000)
        expect = ("config.json", "nesting")
    elif kind == "deep_config":
        replace["config.json"] = _plain("config.json", _with_config(
            config, lambda c: c["config"]["layers"][0]["config"].update(extra=_nested(150))))
        expect = ("config.json", "/config/layers/0/config/extra", "nesting")
    elif kind == "huge_numpy_dtype":  # a 2 GB element type
        replace["config.json"] = _plain("config.json", _with_config(config, _numpy_in_layer([0, 0], "V2000000000")))
        expect = ("config.json", "/config/layers/0/config/extra", "config array rule")
    elif kind == "numpy_subarray_shape":  # a dtype that is itself a 2 GB block
        replace["config.json"] = _plain("config.json", _with_config(config, _numpy_in_layer(0, "(16000,16000)f8")))
        expect = ("config.json", "config array rule")
    elif kind == "numpy_long_strings":  # 1001 strings padded to the longest: 400 MB
        replace["config.json"] = _plain("config.json", _with_config(
            config, _numpy_in_layer(["x" * 100_000] + ["y"] * 1000, "U")))
        expect = ("config.json", "config array rule")
    else:
        raise AssertionError(kind)
    members = [replace.get(name) or _plain(name, data) for name, data in real.items()]
    return members + extra, expect


ARCHIVE_CASES = ["config_bomb", "weights_bomb_6gib", "weights_bomb_256mib", "oversize_asset", "stray_asset",
                 "stray_member", "duplicate_config", "nested_json", "deep_config", "huge_numpy_dtype",
                 "numpy_subarray_shape", "numpy_long_strings"]


@pytest.mark.parametrize("kind", ARCHIVE_CASES)
def test_crafted_archive_is_refused_within_memory(tmp_path, kind):
    members, expect = _archive_case(kind, _real_members(tmp_path))
    path = tmp_path / f"crafted_{kind}.keras"
    _write_zip(path, members)
    assert path.stat().st_blocks * 512 < 16 << 20  # small on disk
    _assert_refused(in_child(lambda: keras.models.load_model(path)), path.name, *expect)
    if kind in ("weights_bomb_256mib", "oversize_asset", "stray_asset"):  # load_weights applies the same rules
        _assert_refused(in_child(lambda: _model().load_weights(path)), path.name, *expect[:1])


def test_hand_written_zip_and_an_asset_named_for_a_layer_load(tmp_path):
    """The control for the zip writer and the asset rule: the real members, plus a small asset for `dense`."""
    members = [_plain(name, data) for name, data in _real_members(tmp_path).items()]
    path = tmp_path / "with_asset.keras"
    _write_zip(path, members + [_plain("assets/layers/dense/vocabulary.txt", b"a\nb\n")])
    assert in_child(lambda: keras.models.load_model(path)).kind == "returned"


def test_numpy_config_values_are_checked_before_they_are_built():
    """deserialize_keras_object itself (no file) refuses arrays too large to build, and builds the rest."""
    for inner in ({"value": [0, 0], "dtype": "V2000000000"}, {"value": 0, "dtype": "(16000,16000)f8"},
                  {"value": [[0] * 1000] * 300, "dtype": "U64"}):  # 300k strings of 256 bytes
        outcome = in_child(lambda inner=inner: keras.saving.deserialize_keras_object(
            {"class_name": "__numpy__", "config": inner}))
        _assert_refused(outcome, "config array rule")
    built = keras.saving.deserialize_keras_object({"class_name": "__numpy__",
                                                   "config": {"value": [[1, 2]], "dtype": "int32"}})
    assert built.dtype == np.int32 and built.shape == (1, 2)


# ---------------------------------------------------------------------- unzipped .keras folders
@pytest.mark.parametrize("kind", ["config_symlink", "weights_fifo", "weights_symlink_to_fifo", "stray_file"])
def test_crafted_folder_is_refused_without_reading_elsewhere(tmp_path, others, kind):
    folder = tmp_path / "folder.keras"
    _model().save(folder, zipped=False)
    if kind == "config_symlink":
        others.json.write_bytes((folder / "config.json").read_bytes())
        (folder / "config.json").unlink()
        (folder / "config.json").symlink_to(others.json)
        expect = ("config.json", "link rule")
    elif kind == "weights_fifo":
        (folder / "model.weights.h5").unlink()
        os.mkfifo(folder / "model.weights.h5")
        expect = ("model.weights.h5", "link rule")
    elif kind == "weights_symlink_to_fifo":
        (folder / "model.weights.h5").unlink()
        (folder / "model.weights.h5").symlink_to(others.fifo)
        expect = ("model.weights.h5", "link rule")
    else:
        (folder / "notes.txt").write_text("hi")
        expect = ("notes.txt", "unexpected member rule")
    watch = others.watch()
    try:
        _assert_refused(in_child(lambda: keras.models.load_model(folder)), folder.name, *expect)
        assert watch.touched() == []
    finally:
        watch.close()
