"""IndexLookup: the vocabulary table behind StringLookup, IntegerLookup and TextVectorization (Keras 3's rules).

Index layout: in "int" mode with a mask token, index 0 is the mask; then `num_oov_indices` OOV
indices; then the vocabulary. In the other modes the mask has no index (masked inputs are dropped).
`adapt` counts tokens and orders the vocabulary by count, ties broken by the token itself from high
to low (Keras sorts with `np.lexsort((tokens, counts))[::-1]`), then keeps the first
`max_tokens - (number of special indices)`. TF-IDF weights are `log(1 + documents / (1 + documents
holding the token))`, the special indices getting the mean weight. A vocabulary set by `adapt` or
`set_vocabulary` is saved as `vocabulary.txt` among the archive's assets; one given to the
constructor as a list is saved in the config, as Keras 3 does.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from typing import Any

import numpy as np

from gpukeras.layers.preprocessing import adapt_data, encoding
from gpukeras.layers.preprocessing.fingerprint import fingerprint64, siphash24
from gpukeras.layers.preprocessing.host_layer import (
    HostPreprocessingLayer,
    check_dtype_argument,
    host_array,
    host_tensor,
)
from gpukeras.saving.serialization import in_safe_mode
from gpukeras.tensor import Tensor

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
_INT64_MAX = np.iinfo(np.int64).max
VOCABULARY_FILENAME = "vocabulary.txt"


def normalize_output_mode(output_mode: Any, layer: str, allowed: Sequence[str] = OUTPUT_MODES) -> str:
    """Keras's spelling of an output mode ("binary" and "tf-idf" are old names), checked."""
    output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
    if output_mode not in allowed:
        raise ValueError(f"{layer}: invalid `output_mode` {output_mode!r}; expected one of {list(allowed)}.")
    return output_mode


def listify(x: Any) -> Any:
    """Arrays and tensors as lists (for configs)."""
    if isinstance(x, Tensor):
        x = x.numpy()
    return x.tolist() if isinstance(x, np.ndarray) else x


def read_vocabulary_file(path: str) -> list[str]:
    """The lines of a vocabulary file as TensorFlow's table initializer reads them: "\\n"-separated, a trailing
    "\\r" dropped, no empty line allowed."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    for i, line in enumerate(lines):
        if line == "":
            raise ValueError(f"Invalid content in {path}: empty line found at line {i + 1}.")
    return lines


class IndexLookup(HostPreprocessingLayer):
    """Maps tokens to indices (or back, with `invert`); the common base of the lookup layers."""

    def __init__(self, max_tokens: int | None, num_oov_indices: int, mask_token: Any, oov_token: Any,
                 vocabulary_dtype: str, vocabulary: Any = None, idf_weights: Any = None, invert: bool = False,
                 output_mode: str = "int", sparse: bool = False, pad_to_max_tokens: bool = False,
                 oov_method: str = "floormod", name: str | None = None, salt: Any = None, **kwargs: Any):
        layer = type(self).__name__
        frozen_size = kwargs.pop("vocabulary_size", None)
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        trainable = kwargs.pop("trainable", True)
        check_dtype_argument(layer, kwargs.pop("dtype", None))
        if kwargs:
            raise ValueError(f"{layer}: unrecognized keyword argument(s): {sorted(kwargs)}.")
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                       or max_tokens <= 1):
            raise ValueError(f"{layer}: if set, `max_tokens` must be an integer greater than 1, got {max_tokens!r}.")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"{layer}: `pad_to_max_tokens=True` needs `max_tokens`.")
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices, int) or num_oov_indices < 0:
            raise ValueError(f"{layer}: `num_oov_indices` must be an integer >= 0, got {num_oov_indices!r}.")
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(f"{layer}: `oov_method` must be 'floormod' or 'farmhash', got {oov_method!r}.")
        output_mode = normalize_output_mode(output_mode, layer)
        if invert and output_mode != "int":
            raise ValueError(f"{layer}: `invert=True` needs output_mode='int', got {output_mode!r}.")
        if sparse:
            raise ValueError(f"{layer}: `sparse=True` is not supported (gpukeras has no sparse tensors; Keras 3 "
                             "allows it only on the TensorFlow backend). Use dense outputs.")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"{layer}: `idf_weights` should only be set if output_mode is 'tf_idf', got "
                             f"output_mode={output_mode!r}.")
        if output_mode == "tf_idf" and has_input_vocabulary and idf_weights is None:
            raise ValueError(f"{layer}: with a `vocabulary` in 'tf_idf' mode, `idf_weights` must be given too.")
        salt = self._check_salt(salt, vocabulary_dtype, oov_method, layer)
        super().__init__(name=name, trainable=trainable)
        self.max_tokens = max_tokens
        self.num_oov_indices = num_oov_indices
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.vocabulary_dtype = vocabulary_dtype
        self.invert = bool(invert)
        self.output_mode = output_mode
        self.sparse = False
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.oov_method = oov_method
        self.salt = salt
        self._frozen_vocab_size = frozen_size
        self.input_vocabulary = vocabulary if not isinstance(vocabulary, str) else None
        self.input_idf_weights = idf_weights
        self._has_input_vocabulary = bool(has_input_vocabulary)
        self._tokens: list[Any] = []
        self._index: dict[Any, int] = {}
        self.idf_weights: np.ndarray | None = None
        self.reset_state()
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        elif idf_weights is not None:
            self.idf_weights = np.asarray(idf_weights, dtype=np.float32)

    @staticmethod
    def _check_salt(salt: Any, vocabulary_dtype: str, oov_method: str, layer: str) -> list[int] | None:
        if salt is None:
            return None
        if vocabulary_dtype != "string" and oov_method != "farmhash":
            raise ValueError(f"{layer}: `salt` can only be used with oov_method='farmhash' for integer "
                             f"vocabularies, got oov_method={oov_method!r}.")
        if isinstance(salt, (tuple, list)) and len(salt) == 2 and all(isinstance(s, int) for s in salt):
            return list(salt)
        if isinstance(salt, int) and not isinstance(salt, bool):
            return [salt, salt]
        raise ValueError(f"{layer}: `salt` must be an integer or a tuple of 2 integers, got {salt!r}.")

    # ------------------------------------------------------------------ keys (subclasses say what a token is)
    def _keys(self, x: Any) -> np.ndarray:
        """Inputs as an array of tokens (str for strings, int64 for integers)."""
        raise NotImplementedError

    def _token(self, value: Any) -> Any:
        """One vocabulary entry as a token."""
        raise NotImplementedError

    def _hash_bytes(self, token: Any) -> bytes:
        """The bytes TensorFlow hashes for an OOV token (its UTF-8 text; integers in decimal)."""
        return str(token).encode("utf-8")

    # ------------------------------------------------------------------ index layout
    def _oov_start_index(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self) -> int:
        return self._oov_start_index() + self.num_oov_indices

    def _special_tokens(self) -> list[Any]:
        return [self.mask_token] * self._oov_start_index() + [self.oov_token] * self.num_oov_indices

    def vocabulary_size(self) -> int:
        """Size of the vocabulary, mask and OOV indices included."""
        return len(self._tokens) + self._token_start_index()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[Any]:
        """The vocabulary in index order; without special tokens it starts at the first learned token."""
        vocab = [self.oov_token] * self._token_start_index() + list(self._tokens)
        if self.mask_token is not None and self.output_mode == "int":
            vocab[0] = self.mask_token
        return vocab if include_special_tokens else vocab[self._token_start_index():]

    def _depth(self) -> int | None:
        return self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size

    def _install(self, tokens: list[Any]) -> None:
        self._tokens = tokens
        start = self._token_start_index()
        self._index = {tok: start + i for i, tok in enumerate(tokens)}

    def _record_vocabulary_size(self) -> None:
        """Remember the size the encodings use; in non-int modes without padding it may not change later."""
        size = self.vocabulary_size()
        if (self.output_mode != "int" and not self.pad_to_max_tokens and self._frozen_vocab_size is not None
                and size != self._frozen_vocab_size):
            raise RuntimeError(f"When using output_mode={self.output_mode!r} and pad_to_max_tokens=False, the "
                               "vocabulary size cannot be changed after the layer is called. Old vocab size is "
                               f"{self._frozen_vocab_size}, new vocab size is {size}.")
        self._frozen_vocab_size = size

    # ------------------------------------------------------------------ setting the vocabulary
    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Replace the vocabulary (a list, an array, or the path of a file with one token per line)."""
        layer = f"{type(self).__name__} {self.name!r}"
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError(f"{layer}: `idf_weights` must be set if output_mode is 'tf_idf'.")
        elif idf_weights is not None:
            raise ValueError(f"{layer}: `idf_weights` should only be set if output_mode is 'tf_idf', got "
                             f"output_mode={self.output_mode!r}.")
        if isinstance(vocabulary, (str, os.PathLike)):
            self._set_vocabulary_file(os.fspath(vocabulary), layer)
            return
        values = [self._token(v) for v in listify(vocabulary)]
        if not values:
            raise ValueError(f"{layer}: cannot set an empty vocabulary.")
        start = self._token_start_index()
        special = self._special_tokens()
        found_special = values[:start] == special
        tokens = values[start:] if found_special else values
        repeated = [t for t, n in collections.Counter(tokens).items() if n > 1]
        if repeated:
            raise ValueError(f"{layer}: the vocabulary has repeated terms {repeated}; make its entries unique.")
        for what, token, check in (("mask", self.mask_token, True), ("OOV", self.oov_token, self.invert)):
            if check and token is not None and token in tokens:
                raise ValueError(f"{layer}: found the reserved {what} token {token!r} at an unexpected place in "
                                 "the vocabulary. The vocabulary need not include the mask and OOV tokens; if it "
                                 f"does, they must come first, in this order: {special}.")
        if self.max_tokens is not None and start + len(tokens) > self.max_tokens:
            raise ValueError(f"{layer}: the vocabulary size {start + len(tokens)} is larger than max_tokens "
                             f"{self.max_tokens}.")
        weights = None
        if self.output_mode == "tf_idf":
            weights = self._padded_idf(np.asarray(listify(idf_weights), dtype=np.float64), len(values),
                                       0 if found_special else start, layer)
        self._install(tokens)
        self._record_vocabulary_size()
        if weights is not None:
            self.idf_weights = weights

    def _padded_idf(self, idf: np.ndarray, n_values: int, front: int, layer: str) -> np.ndarray:
        """The given IDF weights with the special indices' (their mean) in front, zeros up to max_tokens."""
        if idf.ndim != 1:
            raise ValueError(f"{layer}: TF-IDF weights must be a 1-D array, got shape {idf.shape}.")
        if len(idf) != n_values:
            raise ValueError(f"{layer}: `idf_weights` must be as long as the vocabulary: got {len(idf)} weights "
                             f"for {n_values} terms.")
        back = self.max_tokens - front - len(idf) if self.pad_to_max_tokens else 0
        padded = np.pad(idf, (front, max(back, 0)), constant_values=(np.average(idf) if front else 0, 0))
        return padded.astype(np.float32)

    def _set_vocabulary_file(self, path: str, layer: str) -> None:
        if in_safe_mode():
            raise ValueError(f"{layer}: requested loading a vocabulary file outside of the model archive "
                             f"({path!r}), which could read arbitrary files; this is disallowed in safe mode. If "
                             "you trust the source, load with `safe_mode=False`.")
        if not os.path.exists(path):
            raise ValueError(f"{layer}: vocabulary file {path} does not exist.")
        if self.output_mode == "tf_idf":
            raise ValueError(f"{layer}: output_mode 'tf_idf' does not support loading a vocabulary from a file.")
        tokens = [self._token(line) for line in read_vocabulary_file(path)]
        repeated = [t for t, n in collections.Counter(tokens).items() if n > 1]
        if repeated:
            raise ValueError(f"{layer}: the vocabulary file {path} has repeated terms {repeated}.")
        self._install(tokens)
        self._record_vocabulary_size()

    # ------------------------------------------------------------------ adapt
    def reset_state(self) -> None:
        """Forget the counts gathered by `update_state` (not the vocabulary)."""
        self._token_counts: collections.Counter = collections.Counter()
        self._document_counts: collections.Counter = collections.Counter()
        self._num_documents = 0

    def adapt(self, data: Any, steps: int | None = None) -> None:
        """Learn the vocabulary (and document frequencies for 'tf_idf') from `data`.

        `data`: a list or array (a 1-D array holds one token per document), or a generator, iterator or
        PyDataset yielding batches. `steps` limits how many batches are read from those.
        """
        adapt_data.check_steps(steps)
        self.reset_state()
        if adapt_data.is_in_memory(data):
            if steps is not None:
                raise ValueError(f"{type(self).__name__}.adapt: `steps` is only for generators and PyDatasets; "
                                 "in-memory data is read whole.")
            keys = self._keys(data)
            self.update_state(keys[:, None] if keys.ndim == 1 else keys)
        else:
            for batch in adapt_data.batches(data, steps):
                self.update_state(batch)
        self.finalize_state()

    def update_state(self, data: Any) -> None:
        """Count the tokens of one batch; a 1-D batch is one document, a 2-D batch one document per row."""
        keys = self._keys(data)
        if keys.ndim <= 1:
            keys = keys.reshape(1, -1)
        self._count_rows(keys.reshape(keys.shape[0], -1).tolist())

    def _count_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        if self._has_input_vocabulary:
            raise ValueError(f"Cannot adapt layer {self.name!r} after setting a static vocabulary via the "
                             "`vocabulary` argument.")
        for row in rows:
            self._token_counts.update(row)
            if self.output_mode == "tf_idf":
                self._document_counts.update(set(row))
                self._num_documents += 1

    def finalize_state(self) -> None:
        """Turn the counts into the vocabulary: by count, ties by token from high to low, up to max_tokens."""
        if self._has_input_vocabulary or not self._token_counts:
            self._record_vocabulary_size()
            return
        counts = self._token_counts
        for special in (self.mask_token, self.oov_token):
            if special is not None:
                counts.pop(special, None)
        ordered = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        if self.max_tokens:
            ordered = ordered[:self.max_tokens - self._token_start_index()]
        tokens = [tok for tok, _ in ordered]
        self._install(tokens)
        if self.output_mode == "tf_idf":
            self.idf_weights = self._learned_idf(tokens)
        self.reset_state()
        self._record_vocabulary_size()

    def _learned_idf(self, tokens: list[Any]) -> np.ndarray:
        document_counts = np.array([self._document_counts[t] for t in tokens], dtype=np.float64)
        idf = np.log(1.0 + self._num_documents / (1.0 + document_counts)).astype(np.float32)
        mean = np.mean(idf, dtype=np.float32) if len(idf) else np.float32(0)
        out = np.concatenate([np.full(self._token_start_index(), mean, dtype=np.float32), idf])
        if self.pad_to_max_tokens and self.max_tokens is not None:
            out = np.pad(out, (0, self.max_tokens - len(out)))
        return out.astype(np.float32)

    # ------------------------------------------------------------------ lookup
    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Indices (int64, same shape) of an array of tokens: mask → 0 (int mode) or dropped, unknown → OOV."""
        flat = keys.reshape(-1)
        if flat.size == 0:
            return np.zeros(keys.shape, dtype=np.int64)
        uniques, inverse = np.unique(flat, return_inverse=True)
        mapped = np.array([self._index_of(u) for u in uniques.tolist()], dtype=np.int64)
        if self.num_oov_indices == 0 and (mapped == -1).any():
            missing = [u for u, m in zip(uniques.tolist(), mapped.tolist()) if m == -1]
            raise ValueError(f"When `num_oov_indices=0` all inputs should be in vocabulary, found OOV values "
                             f"{missing}, consider setting `num_oov_indices=1`.")
        return mapped[inverse.reshape(-1)].reshape(keys.shape)

    def _index_of(self, token: Any) -> int:
        if self.mask_token is not None and token == self.mask_token:
            return 0 if self.output_mode == "int" else _INT64_MAX
        index = self._index.get(token)
        if index is not None:
            return index
        if self.num_oov_indices == 0:
            return -1
        if self.num_oov_indices == 1:
            return self._oov_start_index()
        return self._oov_start_index() + self._oov_bucket(token)

    def _oov_bucket(self, token: Any) -> int:
        """Which OOV index an unknown token gets when there are several (hash or floormod, as Keras)."""
        if self.vocabulary_dtype != "string" and self.oov_method == "floormod":
            return int(token) % self.num_oov_indices
        data = self._hash_bytes(token)
        value = siphash24(self.salt, data) if self.salt is not None else fingerprint64(data)
        return value % self.num_oov_indices

    def invert_lookup(self, indices: np.ndarray) -> np.ndarray:
        """Tokens of an array of indices: 0 → mask token (when there is one), unknown → OOV token."""
        inverse = {i: tok for tok, i in self._index.items()}
        if self.mask_token is not None:
            inverse[0] = self.mask_token
        flat = np.asarray(indices, dtype=np.int64).reshape(-1)
        out = [inverse.get(i, self.oov_token) for i in flat.tolist()]
        dtype = str if self.vocabulary_dtype == "string" else np.int64
        return np.array(out, dtype=dtype).reshape(np.shape(indices))

    def _ensure_known_vocab_size(self) -> None:
        if self.output_mode != "int" and not self.pad_to_max_tokens and self._frozen_vocab_size is None:
            raise RuntimeError(f"When using output_mode={self.output_mode!r} and pad_to_max_tokens=False, you must "
                               "set the layer's vocabulary before calling it. Either pass a `vocabulary` argument "
                               "to the layer, or call `adapt` with some sample data.")

    def encode_rows(self, flat: np.ndarray, row_ids: np.ndarray, n_rows: int) -> np.ndarray:
        """(n_rows, depth) multi_hot / count / tf_idf of indices grouped by row."""
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        out = encoding.bincount_rows(flat, row_ids, n_rows, self._depth(), mode)
        return out * self._idf() if self.output_mode == "tf_idf" else out

    def _idf(self) -> np.ndarray:
        if self.idf_weights is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: when output_mode is 'tf_idf', idf weights must "
                             "be provided (adapt the layer or pass `idf_weights`).")
        return self.idf_weights

    def encode_indices(self, indices: np.ndarray) -> np.ndarray:
        """Dense indices in the layer's output mode (int: as they are)."""
        if self.output_mode == "int":
            return indices
        if self.output_mode == "one_hot":
            return encoding.one_hot(indices, self._depth())
        flat, row_ids, n_rows, single = encoding.rows_of(indices)
        out = self.encode_rows(flat, row_ids, n_rows)
        return out[0] if single else out

    def call(self, inputs: Any) -> Tensor:
        self._ensure_known_vocab_size()
        if self.invert:
            return host_tensor(self.invert_lookup(self._indices_for_invert(inputs)))
        return host_tensor(self.encode_indices(self.lookup(self._keys(inputs))))

    def _indices_for_invert(self, inputs: Any) -> np.ndarray:
        arr = host_array(inputs)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{type(self).__name__} {self.name!r} with invert=True maps integer indices back to "
                            f"tokens; got inputs of dtype {arr.dtype}.")
        return arr.astype(np.int64)

    # ------------------------------------------------------------------ shapes, dtypes, config
    def output_dtype(self) -> str:
        if self.output_mode != "int":
            return "float32"
        if self.invert:
            return "string" if self.vocabulary_dtype == "string" else "int64"
        return "int64"

    def compute_output_shape(self, input_shape: Any) -> tuple:
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        depth = self._depth()
        if self.output_mode == "one_hot" and len(input_shape) > 1 and input_shape[-1] == 1:
            return input_shape[:-1] + (depth,)
        if self.output_mode == "one_hot":
            return input_shape + (depth,)
        return input_shape[:-1] + (depth,)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "invert": self.invert,
            "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices,
            "oov_token": self.oov_token,
            "mask_token": self.mask_token,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
            "pad_to_max_tokens": self.pad_to_max_tokens,
            "vocabulary_dtype": self.vocabulary_dtype,
            "idf_weights": listify(self.input_idf_weights),
            "vocabulary": listify(self.input_vocabulary),
            "vocabulary_size": self._frozen_vocab_size,
            "oov_method": self.oov_method,
            "salt": self.salt,
        }

    def get_build_config(self) -> dict[str, Any]:
        return {}

    # ------------------------------------------------------------------ saving (Keras 3's protocol)
    def save_own_variables(self, store: MutableMapping[str, Any]) -> None:
        """The TF-IDF weights under "idf_weights" (Keras 3's key); nothing in the other modes."""
        if self.output_mode == "tf_idf" and self.idf_weights is not None:
            store["idf_weights"] = self.idf_weights

    def load_own_variables(self, store: Mapping[str, Any]) -> None:
        unexpected = set(store) - ({"idf_weights"} if self.output_mode == "tf_idf" else set())
        if unexpected:
            raise ValueError(f"{type(self).__name__} {self.name!r} (output_mode={self.output_mode!r}) has no "
                             f"variables {sorted(unexpected)}.")
        if "idf_weights" in store:
            self.idf_weights = np.asarray(store["idf_weights"], dtype=np.float32)

    def save_assets(self, dir_path: str) -> None:
        """Write the vocabulary (special tokens included) to `vocabulary.txt`, unless the config holds it."""
        if self.input_vocabulary is not None:
            return
        with open(os.path.join(dir_path, VOCABULARY_FILENAME), "w", encoding="utf-8") as f:
            f.write("\n".join(str(w) for w in self.get_vocabulary(include_special_tokens=True)))

    def load_assets(self, dir_path: str) -> None:
        """Read back what `save_assets` wrote (or Keras 3 did): one token per line."""
        if self.input_vocabulary is not None:
            return
        path = os.path.join(dir_path, VOCABULARY_FILENAME)
        if not os.path.isfile(path):
            raise ValueError(f"{type(self).__name__} {self.name!r}: the saved model has no vocabulary for this layer "
                             f"(expected its assets to hold {VOCABULARY_FILENAME}).")
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        while lines and lines[-1] == "":
            lines.pop()
        values = [self._token(line) for line in lines]
        if self.output_mode == "tf_idf":
            if self.idf_weights is None:
                raise ValueError(f"{type(self).__name__} {self.name!r}: the file holds a 'tf_idf' vocabulary but no "
                                 "idf_weights for it.")
            self.set_vocabulary(values, idf_weights=self.idf_weights[:len(values)])
        else:
            self.set_vocabulary(values)
