"""Samplers with exact scores of the paper's 2-D mixture, and with a small real score network
on images; plus the exact densities and scores of the mixture itself."""

import math

import pytest
import torch
from torch import nn

from ncsn.errors import NcsnError
from ncsn.sampling import annealed_langevin, inpaint, langevin, uniform_init
from ncsn.schedules import make_sigmas
from ncsn.settings import check_block
from ncsn.toy import GaussianMixture

N_POINTS = 1280  # paper App. B.1: 1280 samples per panel of Fig. 3


def near_major_mode(points):
    """Fraction of points closer to (5, 5) than to (-5, -5) (the bisector is x + y = 0)."""
    return float((points.sum(dim=1) > 0).double().mean())


# --- the mixture ------------------------------------------------------------------------


@pytest.mark.parametrize("noise", ["component_std", "convolved"])
def test_mixture_density_is_normalised_and_score_is_its_gradient(noise):
    gmm = GaussianMixture.paper(noise)
    grid = torch.linspace(-16, 16, 401, dtype=torch.float64)
    xx, yy = torch.meshgrid(grid, grid, indexing="ij")
    flat = torch.stack([xx.flatten(), yy.flatten()], dim=1)
    for sigma in (None, 0.5, 2.0):
        mass = gmm.log_prob(flat, sigma).exp().sum() * (grid[1] - grid[0]) ** 2
        assert float(mass) == pytest.approx(1.0, abs=1e-6)
        x = (torch.randn(50, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 6).requires_grad_(
            True
        )
        (autograd_score,) = torch.autograd.grad(gmm.log_prob(x, sigma).sum(), x)
        assert torch.allclose(gmm.perturbed_score(x.detach(), sigma), autograd_score, atol=1e-10)
    x = torch.tensor([[0.3, -1.0], [4.0, 6.0]], dtype=torch.float64)
    per_row = gmm.perturbed_score(x, torch.tensor([0.5, 3.0]))
    assert torch.allclose(per_row[0], gmm.perturbed_score(x[:1], 0.5)[0])
    assert torch.allclose(per_row[1], gmm.perturbed_score(x[1:], 3.0)[0])
    assert torch.equal(gmm.score(x), gmm.perturbed_score(x, None))


def test_mixture_noise_levels_component_std_vs_convolved():
    # official toy code (GMMDistAnneal): sigma is each component's std; convolved: variance 1 + sigma^2
    x = torch.tensor([[0.3, -1.0], [4.0, 6.0], [-7.0, -2.0]], dtype=torch.float64)
    official, convolved = GaussianMixture.paper("component_std"), GaussianMixture.paper("convolved")
    assert torch.allclose(official.perturbed_score(x, 1.0), official.score(x))  # level sigma = 1 is the data
    assert torch.allclose(convolved.perturbed_score(x, 0.0), convolved.score(x))
    assert torch.allclose(official.perturbed_score(x, math.sqrt(2.0)), convolved.perturbed_score(x, 1.0))
    # far in the heavy mode's basin the score is (mean - x) / variance
    far = torch.tensor([[40.0, 40.0]], dtype=torch.float64)
    assert torch.allclose(official.perturbed_score(far, 3.0), (5.0 - far) / 9.0)
    assert torch.allclose(convolved.perturbed_score(far, 3.0), (5.0 - far) / 10.0)
    with pytest.raises(NcsnError, match="noise"):
        GaussianMixture([1.0], [[0.0, 0.0]], noise="added")


def test_mixture_samples_have_its_weights_and_means():
    gmm = GaussianMixture.paper()
    points = gmm.sample(20000, generator=torch.Generator().manual_seed(0))
    assert points.shape == (20000, 2) and points.dtype == torch.float32
    assert near_major_mode(points) == pytest.approx(0.8, abs=4 * math.sqrt(0.16 / 20000))
    assert torch.allclose(points[points.sum(1) > 0].mean(0), torch.tensor([5.0, 5.0]), atol=0.05)


def test_mixture_rejects_bad_parameters():
    with pytest.raises(NcsnError, match="sum to 1"):
        GaussianMixture([0.5, 0.6], [[0, 0], [1, 1]])
    with pytest.raises(NcsnError, match="means"):
        GaussianMixture([0.5, 0.5], [[0, 0]])
    with pytest.raises(NcsnError, match=r"\(B, 2\)"):
        GaussianMixture.paper().score(torch.zeros(3, 3))


# --- annealed vs plain Langevin on the mixture (paper Fig. 3) ---------------------------


@pytest.mark.parametrize("sigma_end", [1.0, math.exp(0.1)])  # paper App. B.1 (20 -> 1); [Re] Sec. 4 (20 -> e^0.1)
def test_annealed_langevin_recovers_mixture_weights_and_means(sigma_end):
    gmm = GaussianMixture.paper()
    sigmas = make_sigmas({"kind": "geometric", "sigma_begin": 20.0, "sigma_end": sigma_end, "num_levels": 10})
    gen = torch.Generator().manual_seed(0)
    x0 = uniform_init((N_POINTS, 2), -8.0, 8.0, generator=gen)
    x = annealed_langevin(gmm.score_fn(sigmas), x0, sigmas, n_steps_each=100, eps=0.1, generator=gen)
    # A perfect sampler puts Binomial(1280, 0.8) points near (5, 5): std sqrt(0.8 * 0.2 / 1280) = 0.011
    # of the fraction. 4 std (0.045) leaves room for sampling noise, not for a wrong weight.
    assert near_major_mode(x) == pytest.approx(0.8, abs=4 * math.sqrt(0.8 * 0.2 / N_POINTS))
    # The chain ends in q_{sigma_L}: components N(mean, sigma_L^2 I) (the official toy code's levels).
    # Standard error of a mode's mean is sigma_L / sqrt(n_mode) < 0.1 for the small mode; allow 4 of them.
    major, minor = x[x.sum(1) > 0], x[x.sum(1) <= 0]
    assert torch.allclose(major.mean(0), torch.tensor([5.0, 5.0]), atol=0.2)
    assert torch.allclose(minor.mean(0), torch.tensor([-5.0, -5.0]), atol=0.4)
    assert major.std(0).tolist() == pytest.approx([sigma_end] * 2, rel=0.1)


def test_plain_langevin_with_exact_scores_gets_the_weights_wrong():
    # Paper Sec. 3.2.2: chains stay in the basin they start in, so about half of the uniform
    # initial points (those with x + y > 0) end near (5, 5) instead of 80%.
    gmm = GaussianMixture.paper()
    gen = torch.Generator().manual_seed(0)
    x0 = uniform_init((N_POINTS, 2), -8.0, 8.0, generator=gen)
    x = langevin(lambda x, levels: gmm.score(x), x0, step_size=0.1, n_steps=1000, generator=gen)
    assert abs(near_major_mode(x) - near_major_mode(x0)) < 0.05
    assert near_major_mode(x) < 0.8 - 0.2
    assert torch.allclose(x[x.sum(1) > 0].mean(0), torch.tensor([5.0, 5.0]), atol=0.2)


def test_plain_langevin_is_annealed_langevin_with_one_level():
    gmm = GaussianMixture.paper()
    sigmas = torch.tensor([0.5])
    x0 = uniform_init((64, 2), -8.0, 8.0, generator=torch.Generator().manual_seed(0))
    plain = langevin(gmm.score_fn(sigmas), x0, step_size=0.1, n_steps=30, generator=torch.Generator().manual_seed(1))
    annealed = annealed_langevin(
        gmm.score_fn(sigmas), x0, sigmas, n_steps_each=30, eps=0.1, generator=torch.Generator().manual_seed(1)
    )
    assert torch.equal(plain, annealed)


def test_annealed_langevin_step_matches_the_update_rule_by_hand():
    gmm = GaussianMixture.paper()
    sigmas = torch.tensor([4.0, 2.0], dtype=torch.float64)
    x0 = torch.tensor([[1.0, -2.0], [6.0, 3.0]], dtype=torch.float64)
    out = annealed_langevin(
        gmm.score_fn(sigmas), x0, sigmas, n_steps_each=2, eps=0.1, generator=torch.Generator().manual_seed(5)
    )
    gen, x = torch.Generator().manual_seed(5), x0.clone()
    for sigma in (4.0, 2.0):
        alpha = 0.1 * sigma**2 / 2.0**2
        for _ in range(2):
            x = (
                x
                + alpha / 2 * gmm.perturbed_score(x, sigma)
                + math.sqrt(alpha) * torch.randn(x.shape, generator=gen, dtype=x.dtype)
            )
    assert torch.allclose(out, x, atol=1e-12)
    assert torch.equal(x0, torch.tensor([[1.0, -2.0], [6.0, 3.0]], dtype=torch.float64))  # input untouched


def test_denoise_adds_one_score_step_at_the_smallest_noise():
    gmm = GaussianMixture.paper()
    sigmas = make_sigmas(check_block("schedule", {"sigma_begin": 5.0, "sigma_end": 0.5, "num_levels": 3})).double()
    x0 = uniform_init((32, 2), -8.0, 8.0, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    kwargs = dict(n_steps_each=5, eps=0.05)
    plain = annealed_langevin(gmm.score_fn(sigmas), x0, sigmas, generator=torch.Generator().manual_seed(2), **kwargs)
    denoised = annealed_langevin(
        gmm.score_fn(sigmas), x0, sigmas, denoise=True, generator=torch.Generator().manual_seed(2), **kwargs
    )
    assert torch.allclose(denoised, plain + 0.25 * gmm.perturbed_score(plain, 0.5), atol=1e-12)


# --- determinism, chunking, snapshots -------------------------------------------------


class SmallConditionalNet(nn.Module):
    """A real (small) noise-conditional score network for 1-channel images."""

    def __init__(self, num_levels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 1, 3, padding=1)
        self.gain = nn.Embedding(num_levels, 8)

    def forward(self, x, levels):
        h = torch.nn.functional.elu(self.conv1(x)) * self.gain(levels)[:, :, None, None]
        return self.conv2(h)


@pytest.fixture(scope="module")
def image_setup():
    torch.manual_seed(0)
    sigmas = make_sigmas(check_block("schedule", {"num_levels": 4}))
    return SmallConditionalNet(len(sigmas)).eval(), sigmas


def test_annealed_langevin_is_deterministic_and_chunking_does_not_change_results(image_setup):
    model, sigmas = image_setup
    x0 = uniform_init((10, 1, 8, 8), generator=torch.Generator().manual_seed(0))

    def run(seed, batch_size=None):
        return annealed_langevin(
            model,
            x0,
            sigmas,
            n_steps_each=3,
            eps=2e-5,
            generator=torch.Generator().manual_seed(seed),
            batch_size=batch_size,
        )

    whole = run(1)
    assert torch.equal(whole, run(1))
    assert not torch.equal(whole, run(2))
    for batch_size in (3, 4, 10, 64):
        assert torch.allclose(run(1, batch_size), whole, rtol=0, atol=1e-6)


def test_chunked_mixture_sampling_is_bitwise_identical():
    gmm = GaussianMixture.paper()
    sigmas = make_sigmas(check_block("schedule", {"sigma_begin": 20.0, "sigma_end": 1.0, "num_levels": 4}))
    x0 = uniform_init((100, 2), -8.0, 8.0, generator=torch.Generator().manual_seed(0))
    runs = [
        annealed_langevin(
            gmm.score_fn(sigmas),
            x0,
            sigmas,
            n_steps_each=10,
            eps=0.1,
            generator=torch.Generator().manual_seed(1),
            batch_size=b,
        )
        for b in (None, 7, 33)
    ]
    assert torch.equal(runs[0], runs[1]) and torch.equal(runs[0], runs[2])


def test_snapshots_record_the_chain(image_setup):
    model, sigmas = image_setup
    x0 = uniform_init((5, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    samples, snapshots = annealed_langevin(
        model, x0, sigmas, n_steps_each=6, eps=2e-5, snapshot_every=6, generator=torch.Generator().manual_seed(3)
    )
    assert snapshots.shape == (1 + len(sigmas), 5, 1, 8, 8)
    assert torch.equal(snapshots[0], x0) and torch.equal(snapshots[-1], samples)
    assert not torch.equal(snapshots[1], snapshots[2])
    samples.clamp_(0, 1)  # results are ordinary tensors, modifiable outside inference mode


def test_the_iterate_is_never_clamped():
    x0 = uniform_init((4, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    push_up = lambda x, levels: torch.full_like(x, 1e4)  # noqa: E731 - a score pointing out of [0, 1]
    x = annealed_langevin(
        push_up, x0, torch.tensor([1.0, 0.1]), n_steps_each=2, eps=2e-5, generator=torch.Generator().manual_seed(0)
    )
    assert float(x.min()) > 1.0


# --- inpainting ---------------------------------------------------------------------------


def test_inpainting_keeps_observed_pixels_and_noises_them_per_level(image_setup):
    model, sigmas = image_setup
    x_observed = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    mask = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    mask[..., :4] = True  # left half observed, as the official code
    out, snapshots = inpaint(
        model,
        x_observed,
        mask,
        sigmas,
        n_steps_each=4,
        eps=2e-5,
        snapshot_every=4,
        generator=torch.Generator().manual_seed(1),
    )
    assert torch.equal(out[..., :4], x_observed[..., :4])
    assert not torch.allclose(out[..., 4:], x_observed[..., 4:], atol=0.05)
    # During level i the observed pixels hold x_observed + sigma_i z: their spread is sigma_i.
    for level, sigma in enumerate(sigmas.tolist()):
        deviation = snapshots[level + 1][..., :4] - x_observed[..., :4]
        assert float(deviation.std()) == pytest.approx(sigma, rel=0.25)
    # A 0/1 float mask gives the same result.
    again = inpaint(
        model, x_observed, mask.float(), sigmas, n_steps_each=4, eps=2e-5, generator=torch.Generator().manual_seed(1)
    )
    assert torch.equal(again, out)


def test_inpainting_the_mixture_follows_the_conditional():
    # Observe the first coordinate at +5 or -5: the second must settle near the same mode.
    gmm = GaussianMixture.paper()
    sigmas = make_sigmas(check_block("schedule", {"sigma_begin": 20.0, "sigma_end": 1.0, "num_levels": 10}))
    observed = torch.zeros(200, 2)
    observed[:100, 0], observed[100:, 0] = 5.0, -5.0
    mask = torch.tensor([[True, False]])
    x0 = uniform_init((200, 2), -8.0, 8.0, generator=torch.Generator().manual_seed(0))
    out = inpaint(
        gmm.score_fn(sigmas),
        observed,
        mask,
        sigmas,
        n_steps_each=100,
        eps=0.1,
        x_init=x0,
        generator=torch.Generator().manual_seed(1),
    )
    assert torch.equal(out[:, 0], observed[:, 0])
    assert float(out[:100, 1].mean()) == pytest.approx(5.0, abs=0.4)
    assert float(out[100:, 1].mean()) == pytest.approx(-5.0, abs=0.4)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(sigmas=torch.tensor([0.1, 1.0])), "descending"),
        (dict(sigmas=torch.tensor([1.0, 0.0])), "positive"),
        (dict(n_steps_each=0), "n_steps_each"),
        (dict(eps=-1.0), "eps"),
        (dict(batch_size=0), "batch_size"),
        (dict(snapshot_every=0), "snapshot_every"),
    ],
)
def test_annealed_langevin_rejects_bad_settings(kwargs, match):
    args = dict(sigmas=torch.tensor([1.0, 0.1]), n_steps_each=1, eps=0.1) | kwargs
    with pytest.raises(NcsnError, match=match):
        annealed_langevin(lambda x, levels: x, torch.zeros(2, 2), **args)


def test_inpaint_rejects_bad_masks():
    x = torch.zeros(2, 1, 4, 4)
    score = lambda x, levels: x  # noqa: E731
    with pytest.raises(NcsnError, match="broadcast"):
        inpaint(score, x, torch.ones(3, 1, 4, 4), torch.tensor([1.0]), n_steps_each=1, eps=0.1)
    with pytest.raises(NcsnError, match="0 .* or 1"):
        inpaint(score, x, torch.full((1, 1, 4, 4), 0.5), torch.tensor([1.0]), n_steps_each=1, eps=0.1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_sampling_on_cuda_with_a_device_generator():
    gmm = GaussianMixture.paper()
    sigmas = make_sigmas(check_block("schedule", {"sigma_begin": 20.0, "sigma_end": 1.0, "num_levels": 10}))
    gen = torch.Generator(device="cuda").manual_seed(0)
    x0 = uniform_init((N_POINTS, 2), -8.0, 8.0, generator=gen, device="cuda")
    x = annealed_langevin(gmm.score_fn(sigmas), x0, sigmas, n_steps_each=100, eps=0.1, generator=gen, batch_size=500)
    assert x.device.type == "cuda"
    assert near_major_mode(x.cpu()) == pytest.approx(0.8, abs=4 * math.sqrt(0.16 / N_POINTS))


# --- diverging chains -------------------------------------------------------------------


def test_annealed_langevin_with_the_paper_stated_levels_raises_naming_level_and_step():
    """Fig. 3 with the paper's stated levels (10 -> 0.1, step 0.1): the first step is 0.1 * (10 / 0.1)^2 = 1000,
    and x + 500 * s(x) with s = -x / (1 + 100) overshoots ever further until it overflows (float32)."""
    gmm = GaussianMixture.paper()
    sigmas = make_sigmas({"kind": "geometric", "sigma_begin": 10.0, "sigma_end": 0.1, "num_levels": 10})
    x0 = uniform_init((64, 2), -8.0, 8.0, generator=torch.Generator().manual_seed(0))
    with pytest.raises(
        NcsnError,
        match=r"sampling diverged: .* at noise level 0 \(sigma = 10\), step \d+ of that level .*64 of 64 chains",
    ):
        annealed_langevin(
            gmm.score_fn(sigmas), x0, sigmas, n_steps_each=100, eps=0.1, generator=torch.Generator().manual_seed(1)
        )
    kept = annealed_langevin(
        gmm.score_fn(sigmas),
        x0,
        sigmas,
        n_steps_each=100,
        eps=0.1,
        generator=torch.Generator().manual_seed(1),
        allow_divergence=True,
    )
    assert not torch.isfinite(kept).all(dim=1).any()


def test_divergence_names_the_first_non_finite_step_of_the_level():
    """A score that turns to inf at the 3rd evaluation of the second level: the error says level 1, step 3."""
    calls = {"n": 0}

    def score(x, levels):
        calls["n"] += 1
        return torch.full_like(x, math.inf) if calls["n"] == 5 + 3 else torch.zeros_like(x)

    sigmas = torch.tensor([1.0, 0.5, 0.1])
    x0 = torch.zeros(4, 1, 2, 2)
    with pytest.raises(
        NcsnError, match=r"noise level 1 \(sigma = 0\.5\), step 3 of that level \(step 8 overall.* 4 of 4 chains"
    ):
        annealed_langevin(score, x0, sigmas, n_steps_each=5, eps=1e-3, generator=torch.Generator().manual_seed(0))
    assert calls["n"] == 10  # stopped at the end of level 1, not run through level 2


def test_plain_langevin_and_inpainting_raise_on_divergence_too():
    def exploding(x, levels):
        return x * 1e30 + 1e30

    x0 = torch.ones(3, 2)
    with pytest.raises(NcsnError, match=r"sampling diverged: .* noise level 0, step 2 of that level"):
        langevin(exploding, x0, step_size=1.0, n_steps=10, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(
        langevin(lambda x, levels: -x, x0, step_size=0.1, n_steps=10, generator=torch.Generator().manual_seed(0))
    ).all()
    mask = torch.tensor([[True, False]]).expand(3, 2)
    with pytest.raises(NcsnError, match=r"noise level 0 \(sigma = 1\), step 2 of that level"):
        inpaint(
            exploding,
            x0,
            mask,
            torch.tensor([1.0, 0.1]),
            n_steps_each=3,
            eps=1.0,
            generator=torch.Generator().manual_seed(0),
        )
