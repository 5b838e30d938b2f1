"""``import-official``: a checkpoint saved the way ermongroup/ncsn saves it becomes one of ours with equal scores.

The official-format file is written from the independent official-style module
(tests/reference/official_refinenet.py, official parameter names) wrapped in ``DataParallel``, as the
official runner does, with random weights: the imported model must give the reference module's
scores to 1e-5 of their largest magnitude.
"""

from __future__ import annotations

import pytest
import torch
from reference.official_refinenet import OfficialCondRefineNetDilated

from ncsn.checkpoint import load_score_model
from ncsn.cli import main
from ncsn.schedules import make_sigmas


def official_module(channels: int, ngf: int, seed: int = 0) -> OfficialCondRefineNetDilated:
    """Official-style CondRefineNetDilated with random weights, norms spread so the level matters."""
    torch.manual_seed(seed)
    model = OfficialCondRefineNetDilated(channels, ngf, 10)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("embed.weight"):
                param.copy_(1 + 0.5 * torch.randn(param.shape))
    return model.eval()


def save_official(path, model: torch.nn.Module) -> None:
    """``torch.save([score.state_dict(), optimizer.state_dict()], path)`` with score in DataParallel."""
    score = torch.nn.DataParallel(model)
    optimizer = torch.optim.Adam(score.parameters(), lr=1e-3)
    torch.save([score.state_dict(), optimizer.state_dict()], path)


@pytest.mark.parametrize(("dataset", "channels", "size", "ngf"), [("cifar10", 3, 32, 8), ("mnist", 1, 28, 6)])
def test_imported_scores_equal_the_official_module(tmp_path, dataset, channels, size, ngf):
    reference = official_module(channels, ngf)
    save_official(tmp_path / "checkpoint_12000.pth", reference)
    assert all(k.startswith("module.") for k in torch.load(tmp_path / "checkpoint_12000.pth")[0])
    out = tmp_path / "ckpt.pt"
    assert (
        main(
            [
                "import-official",
                str(tmp_path / "checkpoint_12000.pth"),
                "--dataset",
                dataset,
                "--ngf",
                str(ngf),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    model, sigmas, info = load_score_model(out)
    assert info["iteration"] == 12000
    assert info["model_spec"] == {
        "arch": "refinenet",
        "channels": channels,
        "image_size": size,
        "ngf": ngf,
        "num_classes": 10,
    }
    torch.testing.assert_close(
        sigmas, make_sigmas({"kind": "geometric", "sigma_begin": 1.0, "sigma_end": 0.01, "num_levels": 10})
    )
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(4, channels, size, size, generator=gen)
    levels = torch.tensor([0, 3, 6, 9])
    with torch.no_grad():
        got, expected = model(x, levels), reference(x, levels)
    scale = expected.abs().max().item()
    assert scale > 0.1
    assert (got - expected).abs().max().item() <= 1e-5 * scale


def test_official_width_is_the_default(tmp_path):
    """Without --ngf, MNIST is imported at the official ngf 64: a file of another width is refused by shape."""
    save_official(tmp_path / "checkpoint.pth", official_module(1, 8))
    with pytest.raises(SystemExit):
        main(
            ["import-official", str(tmp_path / "checkpoint.pth"), "--dataset", "svhn", "--out", str(tmp_path / "x.pt")]
        )
    from ncsn.errors import NcsnError
    from ncsn.official import import_official

    with pytest.raises(
        NcsnError, match=r"'begin_conv.weight' has shape \(8, 1, 3, 3\), expected \(64, 1, 3, 3\).*--ngf"
    ):
        import_official(tmp_path / "checkpoint.pth", "mnist")


def test_missing_key_other_architecture_and_foreign_file_are_named(tmp_path, capsys):
    state = torch.nn.DataParallel(official_module(3, 4)).state_dict()
    incomplete = dict(state)
    del incomplete["module.refine2.crp.convs.1.weight"]
    torch.save([incomplete, {}], tmp_path / "incomplete.pth")
    assert (
        main(
            [
                "import-official",
                str(tmp_path / "incomplete.pth"),
                "--dataset",
                "cifar10",
                "--ngf",
                "4",
                "--out",
                str(tmp_path / "a.pt"),
            ]
        )
        == 2
    )
    assert "lacks the parameter 'refine2.crp.convs.1.weight'" in capsys.readouterr().err

    other = dict(state, **{"module.sigmas": torch.ones(10)})  # NCSNv2 keeps its sigmas in the network
    torch.save([other, {}], tmp_path / "v2.pth")
    assert (
        main(
            [
                "import-official",
                str(tmp_path / "v2.pth"),
                "--dataset",
                "cifar10",
                "--ngf",
                "4",
                "--out",
                str(tmp_path / "b.pt"),
            ]
        )
        == 2
    )
    assert "'sigmas'" in capsys.readouterr().err and not (tmp_path / "b.pt").exists()

    torch.save({"weights": [1, 2]}, tmp_path / "foreign.pth")
    assert (
        main(
            ["import-official", str(tmp_path / "foreign.pth"), "--dataset", "cifar10", "--out", str(tmp_path / "c.pt")]
        )
        == 2
    )
    assert "is not an official NCSN checkpoint" in capsys.readouterr().err
