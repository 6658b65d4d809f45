"""Model files are data: no way of handing symop a file makes it run code.

Each test plants a payload whose unpickling would create a marker file, hands
it to symop the way a user (or a stranger's shared folder) would, and checks
that symop refuses it with a sentence and that the marker never appears.
"""

from __future__ import annotations

import io
import pickle
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from symop import training
from symop.cli import main
from symop.errors import SymopError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "operators"


class Payload:
    """Unpickling this creates ``marker`` (a harmless stand-in for ``os.system``)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def torch_payload(path: Path, marker: Path) -> Path:
    """A ``torch.save`` file (zip) whose pickle calls ``open`` on load."""
    torch.save({"format": "symop-pino/1", "model": Payload(marker)}, path)
    return path


def pickle_payload(path: Path, marker: Path) -> Path:
    """A legacy plain pickle whose loading calls ``open``."""
    with open(path, "wb") as f:
        pickle.dump({"format": "symop-hypino/1", "state": Payload(marker)}, f)
    return path


def disguised_payload(path: Path, marker: Path) -> Path:
    """A file with symop's own header whose tensor entry is a malicious pickle."""
    header = b'{"format": "symop-checkpoint/1", "meta": {"format": "symop-pino/1"}}'
    body = io.BytesIO()
    torch.save({"model": Payload(marker)}, body)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(training.HEADER_ENTRY, header)
        z.writestr(training.TENSORS_ENTRY, body.getvalue())
    return path


PAYLOADS = {"torch.save": torch_payload, "plain pickle": pickle_payload, "symop header": disguised_payload}


def test_the_payloads_are_live(tmp_path: Path):
    """The stand-in payloads really run code when unpickled the unsafe way."""
    marker = tmp_path / "marker"
    with zipfile.ZipFile(torch_payload(tmp_path / "a.pt", marker)) as z:
        pickled = next(name for name in z.namelist() if name.endswith("data.pkl"))
        pickle.loads(z.read(pickled))  # noqa: S301 - what an unsafe torch.load would do
    assert marker.exists()
    marker.unlink()
    with open(pickle_payload(tmp_path / "b.pt", marker), "rb") as f:
        pickle.load(f)  # noqa: S301
    assert marker.exists()


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_load_checkpoint_refuses_payloads_without_running_them(tmp_path: Path, kind: str):
    marker = tmp_path / "marker"
    path = PAYLOADS[kind](tmp_path / "evil.pt", marker)
    with pytest.raises(SymopError):
        training.load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("method, family", [("pino", "poisson_bumps.pde"), ("hypino", "poisson_bumps.pde")])
@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_set_model_refuses_payloads(tmp_path: Path, capsys, method: str, family: str, kind: str):
    marker = tmp_path / "marker"
    evil = PAYLOADS[kind](tmp_path / "evil.pt", marker)
    code = main(["run", str(EXAMPLES / family), "-m", method, "--set", f"model={evil}", "-q"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and "model file" in err
    assert not marker.exists()


def test_a_model_named_in_a_file_is_read_beside_that_file(tmp_path: Path, monkeypatch, capsys):
    """``solve pino(model: evilmodel)`` in a shared folder: refused, and resolved beside the file."""
    shared, elsewhere = tmp_path / "shared", tmp_path / "elsewhere"
    shared.mkdir(), elsewhere.mkdir()
    marker = tmp_path / "marker"
    text = (EXAMPLES / "poisson_bumps.pde").read_text()
    text = "\n".join(line for line in text.splitlines() if not line.startswith("solve"))
    (shared / "stranger.pde").write_text(text + "\nsolve pino(model: evilmodel)\n")
    torch_payload(shared / "evilmodel", marker)
    pickle_payload(elsewhere / "evilmodel", marker)  # what a cwd-relative lookup would find
    monkeypatch.chdir(elsewhere)
    code = main(["run", str(shared / "stranger.pde"), "-q"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert str(shared / "evilmodel") in err.replace("\n", "")
    assert not marker.exists()


@pytest.mark.parametrize("method", ["pino", "hypino"])
def test_resume_refuses_a_planted_checkpoint(tmp_path: Path, capsys, method: str):
    marker = tmp_path / "marker"
    out = tmp_path / "MODEL"
    torch_payload(tmp_path / "MODEL.ckpt", marker)
    code = main(["train", str(EXAMPLES / "poisson_bumps.pde"), "-m", method, "--samples", "2", "-o", str(out),
                 "--resume", "-q", "--set", "steps=1"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and "model file" in err
    assert not marker.exists()


def test_checkpoints_round_trip_as_json_and_tensors(tmp_path: Path):
    """Plain values travel as JSON (readable without torch), tensors as weights."""
    import json

    import numpy as np

    state = {"format": "x/1", "step": 3, "losses": [1.0, float("nan")], "scale": np.float64(2.5),
             "shape": (2, 3), "model": {"w": torch.arange(3.0)}, "optimizer": {"state": {0: {"m": torch.ones(1)}}}}
    path = tmp_path / "m.pt"
    training.save_checkpoint(path, state)
    with zipfile.ZipFile(path) as z:
        header = json.loads(z.read(training.HEADER_ENTRY))
    assert header["meta"]["step"] == 3 and header["meta"]["shape"] == [2, 3] and "model" not in header["meta"]
    back = training.load_checkpoint(path)
    assert back["scale"] == 2.5 and back["losses"][1] != back["losses"][1]
    assert torch.equal(back["model"]["w"], torch.arange(3.0))
    assert torch.equal(back["optimizer"]["state"][0]["m"], torch.ones(1))
    with pytest.raises(TypeError, match="not plain data"):
        training.save_checkpoint(tmp_path / "bad.pt", {"thing": object()})


def test_a_folder_and_a_truncated_file_are_sentences(tmp_path: Path):
    path = tmp_path / "m.pt"
    training.save_checkpoint(path, {"model": {"w": torch.ones(4)}})
    with pytest.raises(SymopError, match="folder"):
        training.load_checkpoint(tmp_path)
    shutil.copy(path, tmp_path / "cut.pt")
    data = (tmp_path / "cut.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(SymopError, match="not a model file"):
        training.load_checkpoint(tmp_path / "cut.pt")
