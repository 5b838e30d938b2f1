"""The one definition of every setting (``ncsn.settings``): closed blocks, typo hints, cross-field checks, the table."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ncsn.cli import main
from ncsn.errors import NcsnError
from ncsn.settings import (
    BLOCKS,
    SettingsError,
    check_block,
    check_config,
    config_problems,
    defaults,
    definition,
    parameter_table,
    source_keys,
    with_parameter_table,
)

ROOT = Path(__file__).resolve().parents[1]
BASE = {
    "device": "cpu",
    "datasets": {"digits": {"source": "digits"}},
    "extractors": {"digits": {"kind": "digits"}},
    "experiments": {"tiny": {"dataset": "digits", "extractor": "digits", "evaluation": {"num_samples": 100}}},
    "toy": {"gmm": {}, "ssm_noise": {"dataset": "digits"}, "scores": {}, "langevin_modes": {}},
    "figures": {"samples": {}, "sweep": {"experiment": "tiny"}},
}


def problems_of(change) -> list[str]:
    config = copy.deepcopy(BASE)
    change(config)
    return config_problems(config)[1]


def test_the_base_config_and_the_shipped_configs_pass():
    assert config_problems(BASE)[1] == []
    for name in ("config.yaml", "paper.yaml"):
        assert config_problems(yaml.safe_load((ROOT / "config" / name).read_text()))[1] == [], name


# one typo in every block and sub-block: (where to put it, the typo, the key it should suggest)
TYPOS = [
    ((), "sed", "seed"),
    (("datasets", "digits"), "image_sise", "image_size"),
    (("extractors", "digits"), "epoch", "epochs"),
    (("experiments", "tiny"), "trainig", "training"),
    (("experiments", "tiny", "model"), "nfg", "ngf"),
    (("experiments", "tiny", "schedule"), "sigma_beign", "sigma_begin"),
    (("experiments", "tiny", "training"), "iteratons", "iterations"),
    (("experiments", "tiny", "training"), "n_iters", "iterations"),
    (("experiments", "tiny", "sampling"), "step_rl", "eps"),
    (("experiments", "tiny", "selection"), "criterium", "criterion"),
    (("experiments", "tiny", "evaluation"), "num_sample", "num_samples"),
    (("toy",), "langevin_mode", "langevin_modes"),
    (("toy", "gmm"), "stdd", "std"),
    (("toy", "ssm_noise"), "noise_varience", "noise_variance"),
    (("toy", "scores"), "log_evry", "log_every"),
    (("toy", "scores", "grid"), "point", "points"),
    (("toy", "langevin_modes"), "num_sampels", "num_samples"),
    (("toy", "langevin_modes", "annealed"), "n_step_each", "n_steps_each"),
    (("figures",), "sample", "samples"),
    (("figures", "samples"), "num_image", "num_images"),
    (("figures", "sweep"), "n_step_each", "n_steps_each"),
]


@pytest.mark.parametrize(("where", "typo", "meant"), TYPOS, ids=[".".join((*w, t)) for w, t, _ in TYPOS])
def test_a_typo_in_any_block_names_its_full_path_and_the_closest_key(where, typo, meant):
    def change(config):
        block = config
        for key in where:
            block = block.setdefault(key, {})
        block[typo] = 1

    problems = problems_of(change)
    path = ".".join((*where, typo))
    assert len(problems) == 1 and problems[0].startswith(f"{path}: unknown key; did you mean `{meant}`?"), problems


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (("experiments", "tiny", "sampling"), "sampling.step_lr: renamed; write `eps` instead"),
        (("figures", "sweep"), "figures.sweep.step_lr: renamed; write `eps` instead"),
        (("toy", "langevin_modes", "langevin"), "langevin.step_lr: renamed; write `eps` instead"),
        (("experiments", "tiny", "training"), "training.eps: renamed; write `adam_eps` instead"),
    ],
)
def test_renamed_keys_say_what_to_write_instead(where, message):
    old = "eps" if where[-1] == "training" else "step_lr"

    def change(config):
        block = config
        for key in where:
            block = block.setdefault(key, {})
        block[old] = 2e-5

    (problem,) = problems_of(change)
    assert message in problem
    if old == "step_lr":
        assert "official code's step_lr is half of it" in problem and "eps = 2 * step_lr" in problem


def exp(**blocks):
    return lambda c: c["experiments"]["tiny"].update(blocks)


CROSS = {
    "ascending geometric": (
        exp(schedule={"sigma_begin": 0.01, "sigma_end": 1.0}),
        "schedule.sigma_begin (0.01) must exceed",
    ),
    "ascending linear": (exp(schedule={"kind": "linear", "sigma_begin": 0.5, "sigma_end": 0.5}), "must exceed"),
    "geometric with one level": (exp(schedule={"num_levels": 1}), "kind geometric needs at least 2 levels"),
    "single with ten levels": (exp(schedule={"kind": "single", "num_levels": 10}), "kind single has one level"),
    "snapshots after the end": (
        exp(training={"iterations": 100, "snapshot_freq": 500}),
        "snapshot_freq (500) exceeds training.iterations (100)",
    ),
    "more shards than batches": (
        exp(sampling={"batch_size": 50}, evaluation={"num_samples": 100, "shards": 3}),
        "shards (3) exceeds the 2 sampling batch(es)",
    ),
    "denoise without annealing": (
        exp(sampling={"method": "langevin", "denoise": True}),
        "denoise applies to annealed Langevin only",
    ),
    "more IS splits than samples": (
        exp(evaluation={"num_samples": 5, "is_splits": 10}),
        "is_splits (10) exceeds evaluation.num_samples (5)",
    ),
    "odd image size for refinenet": (
        lambda c: c["datasets"]["digits"].update(image_size=7),
        "needs an even image size",
    ),
    "EMA weights never kept": (exp(sampling={"use_ema": True}), "use_ema is true but training.ema is false"),
    "unknown data set": (exp(dataset="mnist"), "experiments.tiny.dataset: 'mnist' is not a key of 'datasets'"),
    "digits classifier on CIFAR": (
        lambda c: (
            c["datasets"].update(cifar={"source": "cifar10", "root": "/data"}),
            c["experiments"]["tiny"].update(dataset="cifar"),
        ),
        "extractor 'digits' is a classifier trained on data set 'digits' (8x8x1) and reads only images of that "
        "size, but data set 'cifar' is 32x32x3",
    ),
    "no root": (
        lambda c: c["datasets"].update(mnist={"source": "mnist"}),
        "datasets.mnist.root: source mnist reads its files from `root`",
    ),
    "key of another source": (
        lambda c: c["datasets"]["digits"].update(crop=140),
        "datasets.digits.crop: source digits does not use it (only celeba, folder)",
    ),
    "inception without weights": (
        lambda c: c["extractors"].update(inc={"kind": "inception"}),
        "extractors.inc.weights: kind inception needs",
    ),
    "digits key on inception": (
        lambda c: c["extractors"].update(inc={"kind": "inception", "weights": "w.pth", "epochs": 3}),
        "extractors.inc.epochs: applies to kind classifier only",
    ),
    "toy data set": (
        lambda c: c["toy"]["ssm_noise"].update(dataset="cifar10"),
        "toy.ssm_noise.dataset: 'cifar10' is not a key",
    ),
    "toy levels ascending": (
        lambda c: c["toy"]["langevin_modes"].update(schedules={"up": {"sigma_begin": 0.1, "sigma_end": 10.0}}),
        "toy.langevin_modes.schedules.up.sigma_begin (0.1) must exceed",
    ),
    "mixture weights and means": (lambda c: c["toy"]["gmm"].update(weights=[1.0]), "1 weights but 2 means"),
    "figure of an unknown experiment": (
        lambda c: c["figures"]["samples"].update(experiments=["nope"]),
        "figures.samples.experiments: unknown experiment(s) nope",
    ),
    "sweep of an unknown experiment": (
        lambda c: c["figures"]["sweep"].update(experiment="nope"),
        "figures.sweep.experiment: 'nope' is not a key",
    ),
    "timed sampling of an unknown experiment": (
        lambda c: c.setdefault("report", {}).update(sample_timing={"experiments": ["nope"]}),
        "report.sample_timing.experiments: 'nope' is not a key",
    ),
}


@pytest.mark.parametrize("case", list(CROSS))
def test_cross_field_problems_are_found_at_plan_time(case):
    change, message = CROSS[case]
    problems = problems_of(change)
    assert any(message in p for p in problems), problems


def test_check_config_fills_every_default_and_lists_all_problems_at_once():
    filled = check_config(BASE)
    tiny = filled["experiments"]["tiny"]
    # the paper's values (Sec. 5, App. B.1), typed here independently of the schema
    assert (tiny["training"]["iterations"], tiny["training"]["lr"], tiny["training"]["snapshot_freq"]) == (
        200000,
        0.001,
        5000,
    )
    # eps: the official chain in Alg. 1's convention (step_lr 2e-5 = eps 4e-5), as config/paper.yaml
    assert (tiny["sampling"]["n_steps_each"], tiny["sampling"]["eps"]) == (100, 4e-5)
    assert tiny["schedule"] == {"kind": "geometric", "sigma_begin": 1.0, "sigma_end": 0.01, "num_levels": 10}
    assert filled["toy"]["gmm"] == {
        "weights": [0.2, 0.8],
        "means": [[-5.0, -5.0], [5.0, 5.0]],
        "std": 1.0,
        "noise": "component_std",
    }
    assert filled["toy"]["ssm_noise"]["log_every"] == 100 and filled["extractors"]["digits"]["epochs"] == 20
    assert BASE["experiments"]["tiny"].get("training") is None  # the input is left alone
    bad = copy.deepcopy(BASE)
    bad["experiments"]["tiny"]["model"] = {"nfg": 8}
    bad["experiments"]["tiny"]["sampling"] = {"step_rl": 1}
    with pytest.raises(SettingsError) as err:
        check_config(bad)
    assert (
        str(err.value).count("\n  - ") == 2 and "model.nfg" in str(err.value) and "sampling.step_rl" in str(err.value)
    )


def test_inception_extractors_get_no_digits_defaults():
    config = copy.deepcopy(BASE)
    config["extractors"]["inc"] = {"kind": "inception", "weights": "w.pth"}
    filled = check_config(config)["extractors"]["inc"]
    assert set(filled) == {
        "kind",
        "weights",
        "download",
        "urls",
        "sha256",
        "eval_batch_size",
    }  # inception's own defaults only
    assert filled["eval_batch_size"] == 128
    assert filled["download"] is False and filled["sha256"]["weights"].startswith("6726825d")  # torch.hub's prefix


def test_a_partial_sha256_block_keeps_the_published_hash_of_the_other_file():
    config = copy.deepcopy(BASE)
    config["extractors"]["inc"] = {"kind": "inception", "weights": "w.pth", "sha256": {"weights": None}}
    filled = check_config(config)["extractors"]["inc"]["sha256"]
    assert filled["weights"] is None and len(filled["cleanfid_weights"]) == 64
    config["extractors"]["inc"]["sha256"] = {"weights": "6726825d"}
    with pytest.raises(SettingsError, match="sha256.weights"):
        check_config(config)


def test_single_level_schedule_defaults_to_one_level():
    assert check_block("schedule", {"kind": "single"})["num_levels"] == 1
    assert check_block("schedule", {})["num_levels"] == 10


def test_every_block_and_setting_is_closed_and_described():
    def walk(node, path):
        if "$ref" in node:
            return
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, f"{path} is open to unknown keys"
            for key, sub in node["properties"].items():
                assert "description" in sub or "$ref" in sub, f"{path}.{key} has no description"
                walk(sub, f"{path}.{key}")

    for name in BLOCKS:
        walk(definition(name), name)
        assert isinstance(defaults(name), dict)


def test_commands_check_their_settings_with_the_same_definitions(tmp_path, capsys):
    assert (
        main(
            [
                "sample",
                "--checkpoint",
                str(tmp_path / "none.pt"),
                "--num-samples",
                "4",
                "--settings",
                '{"sampling": {"step_lr": 2e-5}}',
                "--out",
                str(tmp_path / "s.npz"),
            ]
        )
        == 2
    )
    assert "sampling.step_lr: renamed; write `eps` instead" in capsys.readouterr().err
    with pytest.raises(NcsnError, match=r"training\.iteratons: unknown key; did you mean `iterations`"):
        check_block("training", {"iteratons": 3})


def test_config_readme_holds_the_current_parameter_table():
    page = (ROOT / "config" / "README.md").read_text(encoding="utf-8")
    assert with_parameter_table(page) == page, "regenerate it: python -m ncsn.settings config/README.md"
    table = parameter_table()
    assert "| `experiments.NAME.sampling.eps` | number | `4.0e-05` |" in table
    assert "| `experiments.NAME.schedule.kind` | string | `geometric` | geometric, linear, single |" in table


def test_a_data_set_block_is_filled_with_its_sources_defaults_and_only_its_sources_keys():
    filled = {
        source: check_block("dataset", {"source": source, **({} if source == "digits" else {"root": "/data"})})
        for source in definition("dataset")["properties"]["source"]["enum"]
    }
    for source, block in filled.items():
        assert set(block) == source_keys(source), source  # every key the source reads, none it rejects
    assert filled["digits"] == {
        "source": "digits",
        "flip": False,
        "resize_filter": "bilinear",
        "test_fraction": 0.2,
        "split_seed": 0,
        "image_size": None,
        "channels": 1,
    }
    assert (filled["celeba"]["image_size"], filled["celeba"]["crop"], filled["celeba"]["test_fraction"]) == (
        32,
        140,
        0.1,
    )
    assert (filled["folder"]["crop"], filled["mnist"]["channels"], filled["cifar10"]["channels"]) == ("square", 1, 3)
    assert check_block("dataset", {"source": "celeba", "root": "/d", "image_size": 64})["image_size"] == 64


def test_defaults_that_depend_on_a_kind_come_from_the_schema():
    assert check_block("schedule", {"kind": "single"})["num_levels"] == 1
    assert check_block("schedule", {"kind": "linear"})["num_levels"] == 10
    assert check_block("extractor", {"kind": "digits"})["eval_batch_size"] == 1000
    assert check_block("extractor", {"kind": "inception", "weights": "w.pth"})["eval_batch_size"] == 128
    assert "| `datasets.NAME.test_fraction` | number | source digits: `0.2`; source celeba: `0.1`" in parameter_table()


def test_commands_take_device_and_seed_defaults_from_the_schema():
    from ncsn.settings import check_envelope

    filled = check_envelope("sample", {})
    assert (filled["device"], filled["seed"]) == ("auto", 0)
    assert check_envelope("sample", {"device": "cpu", "seed": 3})["seed"] == 3
    with pytest.raises(NcsnError, match=r"device: 'tpu' is not one of \['auto', 'cpu', 'cuda'\]"):
        check_envelope("sample", {"device": "tpu"})


def test_the_classifier_extractor_trains_with_exactly_the_schemas_classifier_keys():
    from ncsn.metrics.classifier import TRAIN_KEYS
    from ncsn.settings import kind_keys

    assert set(TRAIN_KEYS) == kind_keys("classifier") and kind_keys("inception") == {
        "weights",
        "cleanfid_weights",
        "download",
        "urls",
        "sha256",
    }


def test_default_eps_is_the_paper_configs_and_its_sweep_holds_both_readings_of_eps():
    """Alg. 1's eps: the official chain is 4e-5 (step_lr 2e-5), the paper's text says 2e-5 ([Re] ran it)."""
    import math

    paper = check_config(yaml.safe_load((ROOT / "config" / "paper.yaml").read_text()))
    default = defaults("sampling")["eps"]
    assert default == 4e-5
    assert {e["sampling"]["eps"] for e in paper["experiments"].values()} == {default}
    grid = paper["figures"]["sweep"]["eps"]
    assert any(math.isclose(v, 2e-5) for v in grid) and any(math.isclose(v, 4e-5) for v in grid)
    assert any(math.isclose(v, default) for v in defaults("figures.sweep")["eps"])


def test_the_schemas_allowed_names_are_the_implementations():
    """The schema lists the data sources and resize filters; the code that implements them has the same names."""
    from ncsn.data import SOURCES
    from ncsn.data.transforms import FILTERS

    properties = definition("dataset")["properties"]
    assert properties["source"]["enum"] == list(SOURCES)
    assert properties["resize_filter"]["enum"] == list(FILTERS)
