"""Data set loaders: the download-once cache (hash check, corrupt files, no network) and the parsing of each
Keras format, on small synthetic files written in those formats (no network is used)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import tarfile
import urllib.error

import numpy as np
import pytest

from gpukeras.datasets import (
    boston_housing,
    cache,
    cifar10,
    cifar100,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)

KERAS_ORIGINS = {  # origins and SHA-256 values pinned by Keras 3 (keras/src/datasets/*.py)
    mnist: ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
            "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"),
    cifar10: ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
              "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"),
    cifar100: ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
               "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"),
    imdb: ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz",
           "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"),
    reuters: ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters.npz",
              "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"),
    boston_housing: ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz",
                     "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"),
}


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty GPUKERAS_HOME (and an empty Keras cache) for the test."""
    monkeypatch.setenv("GPUKERAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return tmp_path / "home"


class FakeNetwork:
    """Stands in for cache._download: serves registered URLs, fails like an offline machine otherwise."""

    def __init__(self):
        self.served: dict[str, bytes] = {}
        self.calls: list[str] = []

    def __call__(self, url, destination):
        self.calls.append(url)
        if url not in self.served:
            raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
        with open(destination, "wb") as f:
            f.write(self.served[url])


@pytest.fixture
def net(monkeypatch):
    fake = FakeNetwork()
    monkeypatch.setattr(cache, "_download", fake)
    return fake


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _mnist_bytes() -> tuple[bytes, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, 10, 6, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, 10, 2, dtype=np.uint8)}
    return _npz(**arrays), arrays


def _place(home, name: str, data: bytes, subdir: str = "datasets") -> str:
    folder = home / subdir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return str(folder / name)


# ---------------------------------------------------------------- the cache
def test_keras_origins_and_hashes_are_recorded() -> None:
    for module, (origin, sha) in KERAS_ORIGINS.items():
        assert (module.ORIGIN, module.SHA256) == (origin, sha), module.__name__
    assert all(len(h) == 64 for h in fashion_mnist.FILES.values())


def test_good_cached_file_is_used_and_never_downloaded(home, net, monkeypatch) -> None:
    data, arrays = _mnist_bytes()
    monkeypatch.setattr(mnist, "SHA256", _sha(data))
    _place(home, "mnist.npz", data)
    for _ in range(2):
        (x_train, y_train), (x_test, y_test) = mnist.load_data()
        np.testing.assert_array_equal(x_train, arrays["x_train"])
        np.testing.assert_array_equal(y_test, arrays["y_test"])
        assert x_train.dtype == np.uint8 and x_train.shape == (6, 28, 28) and y_train.shape == (6,)
    assert net.calls == []


def test_missing_file_is_downloaded_once(home, net, monkeypatch) -> None:
    data, arrays = _mnist_bytes()
    monkeypatch.setattr(mnist, "SHA256", _sha(data))
    net.served[mnist.ORIGIN] = data
    mnist.load_data()
    mnist.load_data()
    assert net.calls == [mnist.ORIGIN]
    assert (home / "datasets" / "mnist.npz").read_bytes() == data
    assert os.listdir(home / "datasets") == ["mnist.npz"]  # no partial download left behind


def test_corrupt_cached_file_is_detected_and_fetched_again(home, net, monkeypatch) -> None:
    data, arrays = _mnist_bytes()
    monkeypatch.setattr(mnist, "SHA256", _sha(data))
    _place(home, "mnist.npz", data[: len(data) // 2])  # a truncated earlier download
    net.served[mnist.ORIGIN] = data
    (x_train, _), _ = mnist.load_data()
    assert net.calls == [mnist.ORIGIN]
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    assert (home / "datasets" / "mnist.npz").read_bytes() == data


def test_no_network_error_names_url_and_path(home, net) -> None:
    with pytest.raises(OSError) as info:
        mnist.load_data()
    message = str(info.value)
    assert isinstance(info.value, cache.DownloadError)
    assert mnist.ORIGIN in message
    assert str(home / "datasets" / "mnist.npz") in message
    assert os.listdir(home / "datasets") == []


def test_no_network_through_the_real_downloader(home, monkeypatch) -> None:
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Network is unreachable")

    monkeypatch.setattr(cache.urllib.request, "urlopen", offline)
    with pytest.raises(cache.DownloadError, match="Network is unreachable") as info:
        cifar10.load_data()
    assert cifar10.ORIGIN in str(info.value)
    assert str(home / "datasets" / "cifar-10-python.tar.gz") in str(info.value)


def test_download_with_wrong_hash_is_rejected(home, net, monkeypatch) -> None:
    data, _ = _mnist_bytes()
    monkeypatch.setattr(mnist, "SHA256", _sha(data))
    net.served[mnist.ORIGIN] = b"<html>captive portal</html>"
    with pytest.raises(cache.DownloadError, match="expected " + _sha(data)) as info:
        mnist.load_data()
    assert str(home / "datasets" / "mnist.npz") in str(info.value)
    assert os.listdir(home / "datasets") == []


def test_good_copy_in_keras_cache_is_used(home, net, monkeypatch, tmp_path) -> None:
    data, arrays = _mnist_bytes()
    monkeypatch.setattr(mnist, "SHA256", _sha(data))
    keras_dir = tmp_path / "keras_home" / "datasets"
    keras_dir.mkdir(parents=True)
    (keras_dir / "mnist.npz").write_bytes(data)
    (x_train, _), _ = mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    assert net.calls == []


def test_md5_hashes_and_default_home(home, net, monkeypatch) -> None:
    words = json.dumps({"the": 1, "movie": 17}).encode()
    monkeypatch.setattr(imdb, "WORD_INDEX_MD5", hashlib.md5(words).hexdigest())
    net.served[imdb.WORD_INDEX_ORIGIN] = words
    assert imdb.get_word_index() == {"the": 1, "movie": 17}
    assert imdb.get_word_index() == {"the": 1, "movie": 17}
    assert len(net.calls) == 1
    monkeypatch.delenv("GPUKERAS_HOME")
    assert cache.gpukeras_home() == os.path.join(os.path.expanduser("~"), ".gpukeras")


# ---------------------------------------------------------------- formats
def test_fashion_mnist_idx_files(home, net, monkeypatch) -> None:
    rng = np.random.default_rng(1)
    images = {"train": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
              "t10k": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)}
    labels = {"train": np.array([0, 9, 3, 3, 1], np.uint8), "t10k": np.array([2, 4, 5], np.uint8)}
    hashes = {}
    for split in ("train", "t10k"):
        n = len(labels[split])
        files = {f"{split}-labels-idx1-ubyte.gz": np.array([0, 0, 8, 1], ">u1").tobytes()
                 + np.array([n], ">u4").tobytes() + labels[split].tobytes(),
                 f"{split}-images-idx3-ubyte.gz": np.array([0, 0, 8, 3], ">u1").tobytes()
                 + np.array([n, 28, 28], ">u4").tobytes() + images[split].tobytes()}
        for name, raw in files.items():
            blob = gzip.compress(raw)
            hashes[name] = _sha(blob)
            net.served[fashion_mnist.BASE + name] = blob
    monkeypatch.setattr(fashion_mnist, "FILES", {k: hashes[k] for k in fashion_mnist.FILES})
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    np.testing.assert_array_equal(x_train, images["train"])
    np.testing.assert_array_equal(y_train, labels["train"])
    np.testing.assert_array_equal(x_test, images["t10k"])
    np.testing.assert_array_equal(y_test, labels["t10k"])
    assert sorted(os.listdir(home / "datasets" / "fashion-mnist")) == sorted(fashion_mnist.FILES)
    fashion_mnist.load_data()
    assert len(net.calls) == 4


def _cifar_tar(members: dict[str, dict]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, batch in members.items():
            raw = pickle.dumps(batch, protocol=2)  # protocol 2 like the originals; bytes keys as py2 str load
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


def test_cifar10_pickles_to_channels_last_uint8(home, net, monkeypatch) -> None:
    rng = np.random.default_rng(2)
    members, datas, labels = {}, [], []
    for i, name in enumerate([f"data_batch_{j}" for j in range(1, 6)] + ["test_batch"]):
        n = 2 if i < 5 else 3
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        lab = [int(v) for v in rng.integers(0, 10, n)]
        members[f"cifar-10-batches-py/{name}"] = {b"batch_label": b"x", b"labels": lab, b"data": data,
                                                  b"filenames": [b"f"] * n}
        datas.append(data)
        labels.append(lab)
    blob = _cifar_tar(members)
    monkeypatch.setattr(cifar10, "SHA256", _sha(blob))
    net.served[cifar10.ORIGIN] = blob
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (10, 32, 32, 3) and x_test.shape == (3, 32, 32, 3)
    assert y_train.shape == (10, 1) and y_test.shape == (3, 1)
    assert x_train.dtype == y_train.dtype == x_test.dtype == y_test.dtype == np.uint8
    # a row is the red plane, then green, then blue, each 32x32 row-major
    d = datas[1][1]
    assert x_train[3, 5, 7, 0] == d[5 * 32 + 7] and x_train[3, 5, 7, 2] == d[2048 + 5 * 32 + 7]
    np.testing.assert_array_equal(y_train[:, 0], sum(labels[:5], []))
    np.testing.assert_array_equal(y_test[:, 0], labels[5])


def test_cifar100_label_modes(home, net, monkeypatch) -> None:
    rng = np.random.default_rng(3)
    members = {}
    for name, n in (("train", 4), ("test", 2)):
        members[f"cifar-100-python/{name}"] = {
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"fine_labels": [int(v) for v in rng.integers(0, 100, n)],
            b"coarse_labels": [int(v) for v in rng.integers(0, 20, n)]}
    blob = _cifar_tar(members)
    monkeypatch.setattr(cifar100, "SHA256", _sha(blob))
    net.served[cifar100.ORIGIN] = blob
    (x_train, y_fine), _ = cifar100.load_data()
    (_, y_coarse), (x_test, _) = cifar100.load_data(label_mode="coarse")
    assert x_train.shape == (4, 32, 32, 3) and x_test.shape == (2, 32, 32, 3) and y_fine.shape == (4, 1)
    np.testing.assert_array_equal(y_fine[:, 0], members["cifar-100-python/train"][b"fine_labels"])
    np.testing.assert_array_equal(y_coarse[:, 0], members["cifar-100-python/train"][b"coarse_labels"])
    assert len(net.calls) == 1
    with pytest.raises(ValueError, match="label_mode"):
        cifar100.load_data(label_mode="medium")


def _ragged(seqs: list[list[int]]) -> np.ndarray:
    out = np.empty(len(seqs), dtype=object)
    out[:] = seqs
    return out


IMDB_TRAIN = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 10], [11]]
IMDB_TEST = [[2, 2], [12, 1, 3]]


def _imdb(home, monkeypatch) -> None:
    blob = _npz(x_train=_ragged(IMDB_TRAIN), y_train=np.array([0, 1, 1, 0]),
                x_test=_ragged(IMDB_TEST), y_test=np.array([1, 0]))
    monkeypatch.setattr(imdb, "SHA256", _sha(blob))
    _place(home, "imdb.npz", blob)


def _perm(n: int, rng: np.random.RandomState) -> np.ndarray:
    idx = np.arange(n)
    rng.shuffle(idx)
    return idx


def test_imdb_defaults_shuffle_and_offsets(home, net, monkeypatch) -> None:
    _imdb(home, monkeypatch)
    (x_train, y_train), (x_test, y_test) = imdb.load_data()
    rng = np.random.RandomState(113)
    p_train, p_test = _perm(4, rng), _perm(2, rng)  # one RandomState: train first, then test
    assert x_train.dtype == object and x_train.shape == (4,)
    # start_char=1, then index_from=3 added; num_words None -> the largest index becomes OOV (Keras's rule)
    top = 12 + 3
    expected = [[1] + [w + 3 if w + 3 < top else 2 for w in IMDB_TRAIN[i]] for i in p_train]
    assert list(x_train) == expected
    np.testing.assert_array_equal(y_train, np.array([0, 1, 1, 0])[p_train])
    assert list(x_test) == [[1] + [w + 3 if w + 3 < top else 2 for w in IMDB_TEST[i]] for i in p_test]
    np.testing.assert_array_equal(y_test, np.array([1, 0])[p_test])
    assert net.calls == []


def test_imdb_num_words_skip_top_maxlen_and_no_oov(home, net, monkeypatch) -> None:
    _imdb(home, monkeypatch)
    (x_train, y_train), (x_test, _) = imdb.load_data(num_words=8, skip_top=5, oov_char=2, start_char=1,
                                                     index_from=3, seed=1)
    words = sorted(w for seq in list(x_train) + list(x_test) for w in seq)
    assert set(words) <= {2, 5, 6, 7}  # 1 (start) < skip_top -> OOV too, as in Keras
    (x_train, y_train), (x_test, _) = imdb.load_data(maxlen=4, oov_char=None, start_char=None, index_from=0)
    assert all(len(s) < 4 for s in list(x_train) + list(x_test))
    assert sorted(map(tuple, x_train)) == [(1, 2, 3), (4, 5), (11,)]
    assert len(y_train) == 3
    with pytest.raises(ValueError, match="Increase maxlen"):
        imdb.load_data(maxlen=1)


def test_object_arrays_with_code_are_refused(home, monkeypatch) -> None:
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    arr = np.empty(1, dtype=object)
    arr[0] = Evil()
    blob = _npz(x_train=arr, y_train=np.array([0]), x_test=arr, y_test=np.array([0]))
    monkeypatch.setattr(imdb, "SHA256", _sha(blob))
    _place(home, "imdb.npz", blob)
    with pytest.raises(pickle.UnpicklingError, match="Refusing"):
        imdb.load_data()


def test_reuters_split_and_labels(home, net, monkeypatch) -> None:
    seqs = [[i + 1] * (i % 4 + 1) for i in range(10)]
    labels = np.arange(10) % 46
    blob = _npz(x=_ragged(seqs), y=labels)
    monkeypatch.setattr(reuters, "SHA256", _sha(blob))
    _place(home, "reuters.npz", blob)
    (x_train, y_train), (x_test, y_test) = reuters.load_data(test_split=0.3, num_words=100)
    p = _perm(10, np.random.RandomState(113))
    assert len(x_train) == 7 and len(x_test) == 3
    assert list(x_train) == [[1] + [w + 3 for w in seqs[i]] for i in p[:7]]
    np.testing.assert_array_equal(y_test, labels[p[7:]])
    assert len(reuters.get_label_names()) == 46 and reuters.get_label_names()[3] == "earn"


def test_boston_housing_shuffle_and_split(home, net, monkeypatch) -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(10, 13)), rng.normal(size=10)
    blob = _npz(x=x, y=y)
    monkeypatch.setattr(boston_housing, "SHA256", _sha(blob))
    _place(home, "boston_housing.npz", blob)
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data()
    p = _perm(10, np.random.RandomState(113))
    np.testing.assert_array_equal(x_train, x[p[:8]])
    np.testing.assert_array_equal(y_test, y[p[8:]])
    assert x_train.shape == (8, 13) and x_test.shape == (2, 13) and x_train.dtype == np.float64
    with pytest.raises(ValueError, match="test_split"):
        boston_housing.load_data(test_split=1.0)
