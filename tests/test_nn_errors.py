"""Errors a user can cause in the network code (symop.nn, hypino's hypernetwork) are SymopErrors with sentences."""

from __future__ import annotations

import pytest
import torch

from symop.cli import main
from symop.errors import MethodError, OptionError, SymopError
from symop.nn import MLP, EngineError, make_engine, stde, taylor

GENERAL = """\
problem general_bc
space x, y
domain box(x: [0, 1], y: [0, 1])
field u
equation -lap(u) = 1
boundary left, right, bottom: u = 0
boundary top: dn(u^2) = 0
"""


def test_an_engine_error_is_a_method_error():
    assert issubclass(EngineError, MethodError) and not issubclass(EngineError, ValueError)
    with pytest.raises(EngineError, match="unknown estimator `fast`; use autograd or stde"):
        make_engine("fast")


def test_a_term_pinn_cannot_evaluate_reads_as_a_sentence_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "general.pde"
    path.write_text(GENERAL)
    assert main(["run", str(path), "--method", "pinn", "--set", "steps=1"]) != 0
    err = capsys.readouterr().err
    assert "cannot evaluate `dn(u^2)`" in err and "Traceback" not in err


def test_bad_network_settings_are_option_errors():
    with pytest.raises(OptionError, match="unknown activation `relu`"):
        MLP(2, activation="relu")
    with pytest.raises(OptionError, match="unknown tangents `diagonal`"):
        stde.laplacian_tangents(3, 4, "diagonal")
    with pytest.raises(OptionError, match="no rule for the activation `relu`"):
        taylor.activation_derivatives("relu", torch.zeros(2), 2)
    with pytest.raises(MethodError, match="use `--set estimator=autograd`"):
        taylor.compose([torch.zeros(2)] * 9, [torch.zeros(2)] * (taylor.MAX_ORDER + 2))


def test_hypino_grid_and_patch_that_do_not_fit_are_an_option_error():
    from symop_hypino.hypernet import Config, HyperNetwork

    with pytest.raises(OptionError, match="multiple of the patch size"):
        HyperNetwork(Config(grid=10, patch=4, dim=8, layers=1, heads=1, width=4, depth=1))
    assert issubclass(OptionError, SymopError)


def test_pinn_refuses_a_term_it_cannot_evaluate_before_training():
    import symop
    from symop.plugins import get_discretization

    reason = get_discretization("pinn").accepts(symop.parse(GENERAL))
    assert reason and "cannot evaluate `dn(u^2)`" in reason
    ok = symop.parse(GENERAL.replace("dn(u^2) = 0", "dn(u) = dn(x^2*y)"))  # dn of a known expression is data
    assert get_discretization("pinn").accepts(ok) is None
