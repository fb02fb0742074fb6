"""Reading weights from HDF5 files that come from anywhere, reading nothing outside them.

An HDF5 file can point elsewhere: soft and external links (to another file, a FIFO that blocks,
or themselves), datasets whose bytes sit in external raw files, virtual datasets built from
other files, and filters that make HDF5 search its plugin path. It can also declare datasets
far larger than it stores. So paths are walked one link at a time through hard links only
(h5py's low-level link API: nothing is traversed to ask), each dataset's layout, storage,
filters and dtype are checked when it is opened, and a dataset is handed out as a `StoredArray`
whose bytes are read only once its declared shape has been matched with the variable it fills
(`Variable.assign` checks the shape) and its dtype with that variable's (`read_pending`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import h5py
import numpy as np
from h5py import h5a, h5d, h5g, h5l, h5o, h5s, h5z

from gpukeras.saving.limits import UnsafeFileError, nbytes, size_text

_H5_ERRORS = (OSError, RuntimeError, KeyError, TypeError, ValueError)
_BUILTIN_FILTERS = {h5z.FILTER_DEFLATE, h5z.FILTER_SHUFFLE, h5z.FILTER_FLETCHER32, h5z.FILTER_SZIP,
                    h5z.FILTER_NBIT, h5z.FILTER_SCALEOFFSET, h5z.FILTER_LZF}
_LINK_KINDS = {h5l.TYPE_SOFT: "a soft link", h5l.TYPE_EXTERNAL: "an external link"}
_NUMBER_KINDS = "biuf"
_MAX_ITEMSIZE = 8
# A variable of this kind may be filled from a dataset of these kinds (a float from any number).
_FILLS = {"f": "biuf", "i": "biu", "u": "bu", "b": "b"}


def lookup(group: Any, path: str, where: str) -> Any:
    """The object at `path` under `group` (an h5py Group or Dataset) reached through hard links only;
    None when absent."""
    found = lookup_id(group.id, group.name or "/", path, where)
    if found is None:
        return None
    return h5py.Group(found[0]) if isinstance(found[0], h5g.GroupID) else h5py.Dataset(found[0])


def lookup_id(node: Any, name: str, path: str, where: str) -> tuple[Any, str] | None:
    """(low-level id, HDF5 path) of `path` under the group id `node` at `name`, or None.

    Each component is checked with `links.exists` / `links.get_info`, which look at the link
    itself: a soft or external link is refused without being followed (following one could open
    another file, block on a FIFO or loop back on itself).
    """
    for part in path.split("/"):
        if part in ("", ".") or not isinstance(node, h5g.GroupID):
            return None
        child, name = part.encode("utf-8"), f"{name.rstrip('/')}/{part}"
        try:
            if not node.links.exists(child):
                return None
            kind = node.links.get_info(child).type
        except _H5_ERRORS as e:
            raise UnsafeFileError(f"Cannot read {where}: the link {name!r} is unreadable ({e}).") from None
        if kind != h5l.TYPE_HARD:
            raise UnsafeFileError(f"Refusing to load {where}: {name!r} is "
                                  f"{_LINK_KINDS.get(kind, 'a user-defined link')}; only plain (hard) links are "
                                  "read, so nothing outside the file is opened (link rule).")
        try:
            node = h5o.open(node, child)
        except _H5_ERRORS as e:
            raise UnsafeFileError(f"Cannot read {where}: {name!r} is unreadable ({e}).") from None
    return node, name


def member_names(group_id: Any, name: str, where: str) -> list[str]:
    """The link names in a group (nothing is followed to list them)."""
    try:
        return [n.decode("utf-8") for n in group_id]
    except _H5_ERRORS as e:
        raise UnsafeFileError(f"Cannot read {where}: the group {name!r} is unreadable ({e}).") from None


def read_attribute(obj: Any, name: str, where: str, max_bytes: int) -> Any:
    """Attribute `name` of `obj` (None when absent), its declared size checked before it is read."""
    try:
        if not h5a.exists(obj.id, name.encode("utf-8")):
            return None
        attr = h5a.open(obj.id, name.encode("utf-8"))
        shape, itemsize = attr.shape or (), attr.dtype.itemsize
    except _H5_ERRORS as e:
        raise UnsafeFileError(f"Cannot read the attribute {name!r} of {obj.name!r} in {where} ({e}).") from None
    declared = nbytes(shape, itemsize)
    if declared > max_bytes:
        raise UnsafeFileError(f"Refusing to load {where}: the attribute {name!r} of {obj.name!r} declares "
                              f"{size_text(declared)}, more than {size_text(max_bytes)} (attribute size rule).")
    try:
        return obj.attrs[name]
    except _H5_ERRORS as e:
        raise UnsafeFileError(f"Cannot read the attribute {name!r} of {obj.name!r} in {where} ({e}).") from None


def open_dataset(group: Any, path: str, where: str, max_bytes: int) -> StoredArray | None:
    """The dataset at `path` under an h5py Group as a checked, unread `StoredArray`; None when absent."""
    return _open_dataset(group.id, group.name or "/", path, where, max_bytes)


def _open_dataset(group_id: Any, group_name: str, path: str, where: str, max_bytes: int) -> StoredArray | None:
    """`open_dataset` on a low-level group id.

    Refused: anything but a dataset, a virtual dataset or one stored in external files (its bytes
    come from other files), a filter HDF5 does not build in (it would load a plugin), and a dtype
    that is not a plain number or boolean of at most 8 bytes.
    """
    found = lookup_id(group_id, group_name, path, where)
    if found is None:
        return None
    node, name = found
    label = f"dataset {name!r} in {where}"
    if not isinstance(node, h5d.DatasetID):
        raise UnsafeFileError(f"Refusing to load {where}: {name!r} should be a dataset, it is not.")
    try:
        plist = node.get_create_plist()
        layout, external = plist.get_layout(), plist.get_external_count()
        filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
        shape, dtype = node.shape, node.dtype
    except _H5_ERRORS as e:
        raise UnsafeFileError(f"Cannot read {label} ({e}).") from None
    if layout == h5d.VIRTUAL:
        raise UnsafeFileError(f"Refusing to load {label}: it is a virtual dataset, whose data would be read from "
                              "other files (virtual dataset rule).")
    if external:
        raise UnsafeFileError(f"Refusing to load {label}: its data is stored in {external} external file(s) "
                              "outside the file (external storage rule).")
    unknown = [f for f in filters if f not in _BUILTIN_FILTERS]
    if unknown:
        raise UnsafeFileError(f"Refusing to load {label}: it uses HDF5 filter(s) {unknown}, which are not built "
                              "in (HDF5 would search its plugin path for them) (filter rule).")
    if shape is None:
        raise UnsafeFileError(f"Refusing to load {label}: it has no dataspace (an empty dataset holds no weight).")
    if dtype.kind not in _NUMBER_KINDS or dtype.itemsize > _MAX_ITEMSIZE or dtype.fields is not None:
        raise UnsafeFileError(f"Refusing to load {label}: its dtype {dtype} is not a plain number or boolean of "
                              f"at most {_MAX_ITEMSIZE} bytes (dtype rule).")
    return StoredArray(node, name, where, tuple(shape), dtype, max_bytes)


class StoredArray(np.lib.mixins.NDArrayOperatorsMixin):
    """A checked dataset whose bytes are not read yet: its declared `shape` and `dtype`, read on demand.

    `Variable.assign` takes it like an array (it has a shape) and checks the shape against the
    variable before anything is read; `read_pending` then checks the dtype and reads it. Code that
    uses it as an array (NumPy functions, operators, attributes) reads it at once, within `max_bytes`.
    """

    def __init__(self, dataset: Any, name: str, where: str, shape: tuple[int, ...], dtype: np.dtype,
                 max_bytes: int):
        self.dataset, self.name, self.where = dataset, name, where
        self.shape, self.dtype, self.max_bytes = shape, dtype, max_bytes
        self._value: np.ndarray | None = None

    @property
    def label(self) -> str:
        return f"dataset {self.name!r} in {self.where}"

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        return nbytes(self.shape, self.dtype.itemsize)

    def read(self) -> np.ndarray:
        """The data, read once (after checking that the declared size fits `max_bytes`)."""
        if self._value is None:
            if self.nbytes > self.max_bytes:
                raise UnsafeFileError(f"Refusing to load {self.label}: it declares shape {self.shape} ({self.dtype}, "
                                      f"{size_text(self.nbytes)}), more than any variable of the model can take "
                                      f"({size_text(self.max_bytes)}) (dataset size rule).")
            value = np.empty(self.shape, self.dtype)
            try:
                if value.size:
                    self.dataset.read(h5s.ALL, h5s.ALL, value)
            except _H5_ERRORS as e:
                raise UnsafeFileError(f"Cannot read {self.label} (corrupt or truncated file?): {e}") from None
            self._value = value
        return self._value

    def read_for(self, variable: Any) -> np.ndarray:
        """The data for `variable`, once its dtype is one the variable's can hold."""
        want = np.dtype(variable.dtype)
        if self.dtype.kind not in _FILLS.get(want.kind, ""):
            raise UnsafeFileError(f"Refusing to load {self.label}: its dtype {self.dtype} cannot fill variable "
                                  f"{variable.path!r} of dtype {want} (dtype rule).")
        return self.read()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        value = self.read()
        return value if dtype is None else value.astype(dtype, copy=False)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        inputs = tuple(x.read() if isinstance(x, StoredArray) else x for x in inputs)
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d dataset")
        return self.shape[0]

    def __getitem__(self, key: Any) -> Any:
        return self.read()[key]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("dataset", "name", "where", "shape", "dtype", "max_bytes", "_value"):
            raise AttributeError(name)
        return getattr(self.read(), name)

    def __repr__(self) -> str:
        return f"<StoredArray {self.label} shape={self.shape} dtype={self.dtype}>"


class VariableStore(Mapping):
    """The datasets of one `<path>/vars` group as `load_own_variables` reads them: names listed up front,
    each dataset checked (and left unread) when it is asked for. `last_key` names the latest one."""

    def __init__(self, group_id: Any, name: str, where: str, max_bytes: int):
        self._group, self._name, self._where, self._max_bytes = group_id, name, where, max_bytes
        self._names = member_names(group_id, name, where) if group_id is not None else []
        self.last_key: str | None = None

    def __getitem__(self, key: str) -> StoredArray:
        if key not in self._names:
            raise KeyError(key)
        self.last_key = key
        found = _open_dataset(self._group, self._name, key, self._where, self._max_bytes)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return key in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def read_pending(writes: list[tuple[Any, Any]]) -> None:
    """Read every `StoredArray` queued in an assignment batch, now that its shape matched its variable."""
    for i, (variable, value) in enumerate(writes):
        if isinstance(value, StoredArray):
            writes[i] = (variable, value.read_for(variable))
