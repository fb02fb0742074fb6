"""TextVectorization: strings to token indices or bag-of-words vectors, as Keras 3 computes them, without TensorFlow.

Each example goes standardize → split → n-grams → StringLookup (mask "" at 0 and "[UNK]" at 1 in
"int" mode) → padding/truncation to `output_sequence_length` (zeros after the tokens; extra tokens
are cut from the end) or an encoding (multi_hot, count, tf_idf). All string work runs on the host
(see text_ops.py for TensorFlow's exact string semantics); outputs are backend Tensors.

A callable `standardize` gets a NumPy array of str and returns one of the same shape (as on Keras
3's non-TensorFlow backends). A callable `split` gets a 1-D NumPy array of str and returns one
sequence of tokens per string.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

import numpy as np

from gpukeras.layers.preprocessing import adapt_data, text_ops
from gpukeras.layers.preprocessing.host_layer import (
    HostPreprocessingLayer,
    check_dtype_argument,
    host_array,
    host_tensor,
)
from gpukeras.layers.preprocessing.index_lookup import normalize_output_mode
from gpukeras.layers.preprocessing.string_lookup import StringLookup
from gpukeras.saving.serialization import deserialize_keras_object
from gpukeras.tensor import Tensor

_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
_SPLIT = ("whitespace", "character")


def _check_choice(value: Any, allowed: tuple[str, ...], arg: str) -> None:
    if value is None or callable(value) or value in allowed:
        return
    raise ValueError(f"TextVectorization: invalid `{arg}` {value!r}; expected one of {list(allowed)}, None, or a "
                     "callable.")


def _ngram_widths(ngrams: Any) -> tuple[int, ...] | None:
    """`ngrams` as the widths to produce: n → (1, ..., n); a tuple as given."""
    if ngrams is None:
        return None
    if isinstance(ngrams, int) and not isinstance(ngrams, bool):
        widths: tuple[int, ...] = tuple(range(1, ngrams + 1))
    elif isinstance(ngrams, tuple) and all(isinstance(n, int) and not isinstance(n, bool) for n in ngrams):
        widths = ngrams
    else:
        raise ValueError(f"TextVectorization: `ngrams` must be None, an integer, or a tuple of integers, got "
                         f"{ngrams!r}.")
    if not widths or any(n < 1 for n in widths):
        raise ValueError(f"TextVectorization: `ngrams` must give n-gram widths of at least 1, got {ngrams!r}.")
    return widths


class TextVectorization(HostPreprocessingLayer):
    """A preprocessing layer which maps text features to integer sequences (or multi_hot/count/tf_idf vectors)."""

    def __init__(self, max_tokens: int | None = None, standardize: Any = "lower_and_strip_punctuation",
                 split: Any = "whitespace", ngrams: Any = None, output_mode: str = "int",
                 output_sequence_length: int | None = None, pad_to_max_tokens: bool = False, vocabulary: Any = None,
                 idf_weights: Any = None, sparse: bool = False, ragged: bool = False, encoding: str = "utf-8",
                 name: str | None = None, **kwargs: Any):
        if sparse:
            raise ValueError("TextVectorization: `sparse=True` is not supported (gpukeras has no sparse tensors; "
                             "Keras 3 allows it only on the TensorFlow backend).")
        if ragged:
            raise ValueError("TextVectorization: `ragged=True` is not supported (gpukeras has no ragged tensors; "
                             "Keras 3 allows it only on the TensorFlow backend). Use `output_sequence_length` or "
                             "the default padding to the longest sequence of the batch.")
        _check_choice(standardize, _STANDARDIZE, "standardize")
        _check_choice(split, _SPLIT, "split")
        output_mode = normalize_output_mode(output_mode, "TextVectorization")
        if output_mode == "one_hot" and split is not None:
            raise ValueError("TextVectorization: output_mode='one_hot' encodes one token per example, so it needs "
                             "split=None (Keras 3 fails on split tokens in this mode); use 'multi_hot' or 'count' "
                             "for bags of words.")
        widths = _ngram_widths(ngrams)
        if output_mode == "int" and output_sequence_length is not None and (
                isinstance(output_sequence_length, bool) or not isinstance(output_sequence_length, int)
                or output_sequence_length < 1):
            raise ValueError("TextVectorization: `output_sequence_length` must be None or a positive integer when "
                             f"output_mode is 'int', got {output_sequence_length!r}.")
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError("TextVectorization: `output_sequence_length` must not be set if output_mode is not "
                             f"'int', got output_sequence_length={output_sequence_length!r}.")
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        check_dtype_argument("TextVectorization", kwargs.pop("dtype", None))
        super().__init__(name=name, **kwargs)
        self._standardize = standardize
        self._split = split
        self._ngrams_arg = ngrams
        self._ngrams = widths
        self._output_mode = output_mode
        self._output_sequence_length = output_sequence_length
        self._encoding = encoding
        self._has_input_vocabulary = bool(has_input_vocabulary)
        self._lookup_layer = StringLookup(max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
                                          pad_to_max_tokens=pad_to_max_tokens, mask_token="", output_mode=output_mode,
                                          has_input_vocabulary=self._has_input_vocabulary, encoding=encoding,
                                          vocabulary_size=vocabulary_size)

    # ------------------------------------------------------------------ the string pipeline
    def _standardized(self, texts: np.ndarray) -> np.ndarray:
        if callable(self._standardize):
            out = np.asarray(self._standardize(texts))
            return text_ops.as_text_array(out, self._encoding)
        if self._standardize in ("lower", "lower_and_strip_punctuation"):
            texts = text_ops.lower_ascii(texts)
        if self._standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            texts = text_ops.strip_ascii_punctuation(texts)
        return texts

    def _split_rows(self, texts: np.ndarray) -> list[list[str]]:
        """One token list per example of a (batch,) or (batch, 1) string array."""
        if texts.ndim > 1:
            if texts.shape[-1] != 1 or texts.ndim > 2:
                raise ValueError("When using TextVectorization to tokenize strings, the input rank must be 1 or "
                                 f"the last shape dimension must be 1. Received: inputs.shape={texts.shape}.")
            texts = texts.reshape(texts.shape[:-1])
        flat = texts.reshape(-1).tolist()
        if self._split == "whitespace":
            return text_ops.split_whitespace(flat)
        if self._split == "character":
            return text_ops.split_characters(flat)
        return [[str(t) for t in row] for row in self._split(np.asarray(flat, dtype=str))]

    def _tokens(self, inputs: Any) -> tuple[Any, bool]:
        """(tokens, ragged): a list of token lists (one per example) when `ragged`, else an array of tokens
        (unsplit strings keep their shape; a single example gives a 1-D array)."""
        arr = host_array(inputs)
        if arr.dtype.kind not in "USO":
            raise TypeError(f"TextVectorization {self.name!r} takes strings, got an array of dtype {arr.dtype}. "
                            "Declare the model input as keras.Input(shape=(1,), dtype=\"string\").")
        texts = self._standardized(text_ops.as_text_array(arr, self._encoding))
        if self._split is None:
            if self._ngrams is None:
                return texts, False
            rows = texts.reshape(-1, texts.shape[-1] if texts.ndim else 1).tolist()
            grams = text_ops.ngrams(rows, self._ngrams)
            return (grams, True) if texts.ndim > 1 else (np.array(grams[0], dtype=str), False)
        if texts.ndim == 0:
            row = self._split_rows(texts.reshape(1))
            row = text_ops.ngrams(row, self._ngrams) if self._ngrams is not None else row
            return np.array(row[0], dtype=str), False
        rows = self._split_rows(texts)
        return (text_ops.ngrams(rows, self._ngrams) if self._ngrams is not None else rows), True

    # ------------------------------------------------------------------ call
    def call(self, inputs: Any) -> Tensor:
        lookup = self._lookup_layer
        lookup._ensure_known_vocab_size()
        tokens, ragged = self._tokens(inputs)
        if not ragged:
            return self._dense_output(tokens)
        lengths = np.array([len(r) for r in tokens], dtype=np.int64)
        indices = lookup.lookup(np.array([t for r in tokens for t in r], dtype=str))
        if self._output_mode != "int":
            row_ids = np.repeat(np.arange(len(tokens), dtype=np.int64), lengths)
            return host_tensor(lookup.encode_rows(indices, row_ids, len(tokens)))
        width = self._output_sequence_length
        if width is None:
            width = int(lengths.max()) if len(lengths) else 0
        out = np.zeros((len(tokens), width), dtype=np.int64)
        start = 0
        for i, n in enumerate(lengths.tolist()):
            kept = min(n, width)
            out[i, :kept] = indices[start:start + kept]
            start += n
        return host_tensor(out)

    def _dense_output(self, tokens: np.ndarray) -> Tensor:
        """Unsplit input (or a single example): one index per token, shape kept; padded/cut on the last axis."""
        indices = self._lookup_layer.lookup(tokens)
        if self._output_mode != "int":
            return host_tensor(self._lookup_layer.encode_indices(indices))
        width = self._output_sequence_length
        if width is not None:
            indices = indices.reshape(1) if indices.ndim == 0 else indices
            indices = indices[..., :width]
            indices = np.pad(indices, [(0, 0)] * (indices.ndim - 1) + [(0, width - indices.shape[-1])])
        return host_tensor(indices)

    # ------------------------------------------------------------------ adapt and vocabulary
    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learn the vocabulary from strings: a list or array (read `batch_size` examples at a time, which changes
        nothing but memory use), or a generator, iterator or PyDataset of batches (at most `steps` of them)."""
        adapt_data.check_steps(steps)
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                       or batch_size <= 0):
            raise ValueError(f"TextVectorization.adapt: `batch_size` must be a positive integer or None, got "
                             f"{batch_size!r}.")
        self.reset_state()
        if adapt_data.is_in_memory(data):
            if steps is not None:
                raise ValueError("TextVectorization.adapt: `steps` is only for generators and PyDatasets; "
                                 "in-memory data is read whole.")
            arr = host_array(data)
            if arr.ndim == 1:
                arr = arr[:, None]
            size = batch_size or max(len(arr), 1)
            for start in range(0, len(arr), size):
                self.update_state(arr[start:start + size])
        else:
            if batch_size is not None:
                raise ValueError("TextVectorization.adapt: `batch_size` is only for in-memory data; generators and "
                                 "PyDatasets yield their own batches.")
            for batch in adapt_data.batches(data, steps):
                self.update_state(batch)
        self.finalize_state()

    def update_state(self, data: Any) -> None:
        """Count the tokens of one batch (one document per example once split)."""
        tokens, ragged = self._tokens(data)
        if ragged:
            self._lookup_layer._count_rows(tokens)
        else:
            self._lookup_layer.update_state(tokens)

    def finalize_state(self) -> None:
        self._lookup_layer.finalize_state()

    def reset_state(self) -> None:
        self._lookup_layer.reset_state()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[str]:
        """The vocabulary in index order ("" and "[UNK]" first in int mode, unless excluded)."""
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self) -> int:
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Replace the vocabulary (list, array or file path) and, for 'tf_idf', the IDF weights."""
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    # ------------------------------------------------------------------ shapes, config, saving
    def output_dtype(self) -> str:
        return "int64" if self._output_mode == "int" else "float32"

    def compute_output_shape(self, input_shape: Any) -> tuple:
        input_shape = tuple(input_shape)
        batch = input_shape[0] if input_shape else None
        if self._output_mode == "int":
            if self._split is None:
                if self._output_sequence_length is None:
                    return input_shape
                return input_shape[:-1] + (self._output_sequence_length,)
            return (batch, self._output_sequence_length)
        depth = self._lookup_layer._depth()
        if self._split is None and self._output_mode == "one_hot":
            return self._lookup_layer.compute_output_shape(input_shape)
        return (batch, depth)

    def get_config(self) -> dict[str, Any]:
        """Keras 3's config; callables stay callables here (saving serializes registered functions)."""
        lookup = self._lookup_layer
        return {
            **super().get_config(),
            "max_tokens": lookup.max_tokens,
            "standardize": self._standardize,
            "split": self._split,
            "ngrams": self._ngrams_arg,
            "output_mode": self._output_mode,
            "output_sequence_length": self._output_sequence_length,
            "pad_to_max_tokens": lookup.pad_to_max_tokens,
            "sparse": False,
            "ragged": False,
            "vocabulary": lookup.get_config()["vocabulary"],
            "idf_weights": lookup.get_config()["idf_weights"],
            "encoding": self._encoding,
            "vocabulary_size": self.vocabulary_size(),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TextVectorization:
        config = dict(config)
        for key in ("standardize", "split"):
            if config.get(key) is not None and not isinstance(config[key], str):
                config[key] = deserialize_keras_object(config[key])
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return super().from_config(config)

    def save_own_variables(self, store: MutableMapping[str, Any]) -> None:
        self._lookup_layer.save_own_variables(store)

    def load_own_variables(self, store: Mapping[str, Any]) -> None:
        self._lookup_layer.load_own_variables(store)

    def save_assets(self, dir_path: str) -> None:
        self._lookup_layer.save_assets(dir_path)

    def load_assets(self, dir_path: str) -> None:
        self._lookup_layer.load_assets(dir_path)
