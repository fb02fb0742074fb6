"""The `assets/` part of a `.keras` archive: files objects write beside their weights (vocabularies).

As in Keras 3, an object that has `save_assets(dir_path)` writes files into a folder of its own,
`assets/<its weights path>/` (the path `weights_h5.walk` gives it; the model itself uses
`assets/`), and `load_assets(dir_path)` reads them back from the same folder after its variables
are loaded. Nothing here knows a class: objects say what they write and read.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

from gpukeras.saving import weights_h5

ASSETS_DIRNAME = "assets"


def _folder(root: str, path: str) -> str:
    """The folder of the object at weights path `path` under `root`, refused if it would leave `root`."""
    folder = os.path.realpath(os.path.join(root, *[p for p in path.split("/") if p]))
    if folder != os.path.realpath(root) and not folder.startswith(os.path.realpath(root) + os.sep):
        raise ValueError(f"Refusing an asset folder outside the archive's assets: {path!r}.")
    return folder


def asset_files(model: Any) -> dict[str, bytes]:
    """`assets/<path>/<file>` → bytes for every file the model's objects write with `save_assets`."""
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as root:
        for path, obj in weights_h5.walk(model):
            if callable(getattr(obj, "save_assets", None)):
                folder = _folder(root, path)
                os.makedirs(folder, exist_ok=True)
                obj.save_assets(folder)
        for dirpath, _, names in sorted(os.walk(root)):
            for name in sorted(names):
                full = os.path.join(dirpath, name)
                relative = os.path.relpath(full, root).replace(os.sep, "/")
                with open(full, "rb") as f:
                    files[f"{ASSETS_DIRNAME}/{relative}"] = f.read()
    return files


def load_assets(model: Any, member_names: Iterable[str], read: Callable[[str], bytes]) -> None:
    """Give every object with `load_assets` its folder, filled with the archive's `assets/<path>/` files.

    `member_names` are the archive's members (already checked safe); `read(name)` returns one's bytes.
    """
    owners = [(path, obj) for path, obj in weights_h5.walk(model) if callable(getattr(obj, "load_assets", None))]
    if not owners:
        return
    prefix = f"{ASSETS_DIRNAME}/"
    with tempfile.TemporaryDirectory() as root:
        for name in member_names:
            if name.startswith(prefix) and not name.endswith("/"):
                target = _folder(root, name[len(prefix):])
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as f:
                    f.write(read(name))
        for path, obj in owners:
            folder = _folder(root, path)
            os.makedirs(folder, exist_ok=True)
            obj.load_assets(folder)
