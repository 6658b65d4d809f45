"""Checkpoints and model files: data, never code.

:func:`save_checkpoint` writes a model file atomically and only on rank 0;
:func:`load_checkpoint` reads one onto a device.  A model file is a JSON
header plus tensors read with ``weights_only=True``; nothing in it can run
code when it is loaded.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from symop.errors import SymopError

from .dist import DistInfo

#: the tag in a model file's JSON header
CHECKPOINT_FORMAT = "symop-checkpoint/1"
HEADER_ENTRY = "symop.json"
TENSORS_ENTRY = "tensors.pt"
MAX_HEADER_BYTES = 64 * 2**20


def save_checkpoint(path: str | Path, state: Mapping[str, Any], info: DistInfo | None = None) -> None:
    """Write ``state`` as a symop model file at ``path``, atomically and only on rank 0.

    The file is a zip archive (entries stored, not compressed) of two entries:
    ``symop.json``, the format tag and every top-level value of ``state`` that
    holds no tensor, as JSON; and ``tensors.pt``, the values that do (weights,
    optimizer states) written by :func:`torch.save`.  :func:`load_checkpoint`
    reads the JSON first and the tensors only with ``weights_only=True``, so a
    model file is data: reading one can never run code.
    """
    if info is not None and not info.is_main:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {k: _plain(v, k) for k, v in state.items() if not _holds_tensor(v)}
    tensors = {k: v for k, v in state.items() if _holds_tensor(v)}
    header = json.dumps({"format": CHECKPOINT_FORMAT, "meta": meta}).encode()
    payload = io.BytesIO()
    torch.save(tensors, payload)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(HEADER_ENTRY, header)
        archive.writestr(TENSORS_ENTRY, payload.getvalue())
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """A model file written by :func:`save_checkpoint`, its tensors moved to ``device``.

    Nothing in the file is interpreted before its JSON header says it is a
    symop model file; the tensors are then read with ``torch.load`` under
    ``weights_only=True``, whose unpickler admits only tensors and plain
    containers and numbers (torch's allow-list; symop adds nothing to it).
    Plain pickles, ``torch.save`` files of other programs and damaged files are
    refused with a sentence.
    """
    path = Path(path)
    if not path.exists():
        raise SymopError(f"there is no model file `{path}`; train one first with `symop train`.")
    if not path.is_file():
        raise SymopError(f"`{path}` is a folder, not a model file.")
    refuse = (f"`{path}` is not a model file symop can read; symop reads only the files that `symop train` and its "
              "checkpoints write, and never unpickles anything else (unpickling can run code)")
    if not zipfile.is_zipfile(path):
        raise SymopError(refuse + ".")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = {info.filename: info for info in archive.infolist()}
            wanted = (entries.get(HEADER_ENTRY), entries.get(TENSORS_ENTRY))
            if None in wanted or any(e.compress_type != zipfile.ZIP_STORED for e in wanted):
                raise SymopError(refuse + ".")
            if wanted[0].file_size > MAX_HEADER_BYTES:
                raise SymopError(refuse + f" (its header is {wanted[0].file_size} bytes long).")
            header = json.loads(archive.read(HEADER_ENTRY))
            if not isinstance(header, dict) or header.get("format") != CHECKPOINT_FORMAT \
                    or not isinstance(header.get("meta"), dict):
                raise SymopError(refuse + " (its header names no symop format).")
            payload = archive.read(TENSORS_ENTRY)
    except SymopError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, RuntimeError) as err:
        raise SymopError(refuse + f" ({type(err).__name__}).") from None
    try:
        tensors = torch.load(io.BytesIO(payload), map_location=device, weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many kinds for a bad or unsafe payload
        raise SymopError(f"the model file `{path}` holds something other than tensors and plain data, or is "
                         f"damaged; symop refuses to read it ({type(err).__name__}).") from None
    if not isinstance(tensors, dict):
        raise SymopError(refuse + " (its tensors are not a table).")
    return {**header["meta"], **tensors}


def _holds_tensor(value: Any) -> bool:
    """Whether ``value`` is a tensor or a container with a tensor somewhere inside."""
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, Mapping):
        return any(_holds_tensor(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_tensor(v) for v in value)
    return False


def _plain(value: Any, where: str) -> Any:
    """``value`` as JSON data: numpy numbers and arrays become Python ones, tuples lists."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"checkpoint entry `{where}` has keys that are not strings")
        return {k: _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    raise TypeError(f"checkpoint entry `{where}` holds a {type(value).__name__}, which is not plain data")
