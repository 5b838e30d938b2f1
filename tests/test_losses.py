"""DSM and SSM losses against direct computations and closed forms on Gaussian data."""

import math

import pytest
import torch
from torch import nn

from ncsn.errors import NcsnError
from ncsn.losses import annealed_ssm_loss, dsm_loss, sliced_score_matching_loss
from ncsn.schedules import make_sigmas
from ncsn.settings import check_block, defaults


class SmallConditionalNet(nn.Module):
    """A real (small) noise-conditional score network: two convolutions and a per-level gain."""

    def __init__(self, channels: int, num_levels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, channels, 3, padding=1)
        self.gain = nn.Embedding(num_levels, 8)

    def forward(self, x, levels):
        h = torch.nn.functional.elu(self.conv1(x)) * self.gain(levels)[:, :, None, None]
        return self.conv2(h)


def test_dsm_equals_direct_per_example_computation():
    torch.manual_seed(0)
    sigmas = make_sigmas(defaults("schedule"))
    model = SmallConditionalNet(3, len(sigmas)).double()
    x = torch.rand(6, 3, 5, 5, dtype=torch.float64)
    loss = dsm_loss(model, x, sigmas.double(), generator=torch.Generator().manual_seed(7))
    per_example = dsm_loss(model, x, sigmas.double(), generator=torch.Generator().manual_seed(7), reduction="none")

    # Same draws, in the documented order: levels, then standard normal noise.
    gen = torch.Generator().manual_seed(7)
    levels = torch.randint(len(sigmas), (6,), generator=gen)
    z = torch.randn(x.shape, generator=gen, dtype=torch.float64)
    direct = []
    for i in range(6):
        sigma = float(sigmas[levels[i]])
        noisy = x[i] + sigma * z[i]
        score = model(noisy[None], levels[i : i + 1])[0]
        target = -(noisy - x[i]) / sigma**2
        direct.append(0.5 * sigma**2 * ((score - target) ** 2).sum().item())
    assert per_example.shape == (6,)
    assert per_example.tolist() == pytest.approx(direct, rel=1e-8)
    assert loss.item() == pytest.approx(sum(direct) / 6, rel=1e-8)
    assert len(set(levels.tolist())) > 1  # the batch really mixes noise levels


def test_dsm_uses_given_levels_and_backpropagates():
    sigmas = make_sigmas(check_block("schedule", {"num_levels": 4}))
    model = SmallConditionalNet(1, 4)
    x = torch.rand(4, 1, 6, 6)
    levels = torch.tensor([0, 1, 2, 3])
    loss = dsm_loss(model, x, sigmas, levels=levels, generator=torch.Generator().manual_seed(1))
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    # Only the used rows of the level embedding get a gradient when a level is missing.
    model.zero_grad()
    dsm_loss(model, x, sigmas, levels=torch.tensor([0, 0, 2, 2]), generator=torch.Generator().manual_seed(1)).backward()
    assert model.gain.weight.grad[[1, 3]].abs().sum() == 0 and model.gain.weight.grad[[0, 2]].abs().sum() > 0


def test_dsm_rejects_bad_arguments():
    sigmas = make_sigmas(defaults("schedule"))
    model = SmallConditionalNet(1, 10)
    x = torch.rand(3, 1, 4, 4)
    with pytest.raises(NcsnError, match="reduction"):
        dsm_loss(model, x, sigmas, reduction="sum")
    with pytest.raises(NcsnError, match="levels"):
        dsm_loss(model, x, sigmas, levels=torch.tensor([0, 1]))


def gaussian_perturbed_score(mean, data_std, sigmas):
    """Exact score of N(mean, data_std^2 I) convolved with N(0, sigma^2 I), as a conditional score function."""

    def score(x, levels):
        var = data_std**2 + sigmas[levels].view(-1, *([1] * (x.dim() - 1))) ** 2
        return -(x - mean) / var

    return score


def test_dsm_for_gaussian_data_prefers_the_exact_score_and_matches_closed_form():
    mean, data_std, dim = 0.5, 0.1, 16
    sigmas = make_sigmas(defaults("schedule"))
    x = mean + data_std * torch.randn(4000, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    exact = gaussian_perturbed_score(mean, data_std, sigmas)

    def scaled(x, levels):
        return 1.2 * exact(x, levels)

    def unperturbed(x, levels):
        return -(x - mean) / data_std**2

    losses = {
        name: float(dsm_loss(fn, x, sigmas, generator=torch.Generator().manual_seed(3)))
        for name, fn in [("exact", exact), ("scaled", scaled), ("unperturbed", unperturbed)]
    }
    assert losses["exact"] < losses["scaled"] < losses["unperturbed"]

    # Per level, sigma * (s* - target) ~ N(0, v I) with v = data_std^2 / (data_std^2 + sigma^2),
    # so the loss is 0.5 * chi^2 with mean 0.5 * D * v and std sqrt(D / 2) * v per example.
    for level in (0, 4, 9):
        levels = torch.full((4000,), level)
        per = dsm_loss(
            exact, x, sigmas, levels=levels, generator=torch.Generator().manual_seed(100 + level), reduction="none"
        )
        v = data_std**2 / (data_std**2 + float(sigmas[level]) ** 2)
        standard_error = math.sqrt(dim / 2) * v / math.sqrt(4000)
        assert abs(float(per.mean()) - 0.5 * dim * v) < 5 * standard_error


def gaussian_score(mean, std):
    return lambda x: -(x - mean) / std**2


@pytest.mark.parametrize("variance_reduction", [False, True])
@pytest.mark.parametrize("shape", [(2,), (1, 3, 3)])
def test_ssm_matches_fisher_divergence_shifted_closed_form(variance_reduction, shape):
    # Data N(m, s^2 I) in D dims. SSM(s) = 0.5 E||s - s*||^2 + J(s*), with J(s*) = -D / (2 s^2).
    # A wrong score -(x - m') / t^2 has 0.5 E||s - s*||^2 = 0.5 * (D s^2 (1/t^2 - 1/s^2)^2 + D (m - m')^2 / t^4).
    m, s, n = 1.0, 0.5, 20000
    dim = math.prod(shape)
    x = m + s * torch.randn(n, *shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact_value = -dim / (2 * s**2)
    wrong_m, wrong_t = 1.3, 0.7
    fisher = 0.5 * (dim * s**2 * (1 / wrong_t**2 - 1 / s**2) ** 2 + dim * (m - wrong_m) ** 2 / wrong_t**4)

    def ssm(score):
        gen = torch.Generator().manual_seed(1)
        return sliced_score_matching_loss(
            score, x, n_particles=2, variance_reduction=variance_reduction, generator=gen
        ).item()

    exact, wrong = ssm(gaussian_score(m, s)), ssm(gaussian_score(wrong_m, wrong_t))
    assert exact < wrong
    # Monte Carlo error: with VR the exact-score estimate is -||v||^2/s^2 + 0.5||s*||^2, std ~ sqrt(2.5 D)/s^2 / sqrt(2n);
    # without VR the squared projection adds more spread. 5% of |J(s*)| (>= 9 standard errors here) is ample.
    assert exact == pytest.approx(exact_value, rel=0.05)
    assert wrong == pytest.approx(exact_value + fisher, abs=0.05 * abs(exact_value) + 0.05 * fisher)


def test_ssm_trains_parameters_and_works_without_grad_mode():
    net = nn.Sequential(nn.Linear(2, 16), nn.Softplus(), nn.Linear(16, 2))
    x = torch.randn(64, 2)
    with torch.no_grad():
        value = sliced_score_matching_loss(net, x, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(value)
    loss = sliced_score_matching_loss(net, x, variance_reduction=True, generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())
    with pytest.raises(NcsnError, match="n_particles"):
        sliced_score_matching_loss(net, x, n_particles=0)


def test_annealed_ssm_matches_the_formula_by_hand_for_a_linear_score():
    # s(x, i) = -c_i x: Jacobian -c_i I, so per particle v^T J v = -c_i ||v||^2 and ||s||^2 = c_i^2 ||x~||^2.
    sigmas = torch.tensor([1.0, 0.5, 0.1], dtype=torch.float64)
    c = torch.tensor([0.7, 2.0, 30.0], dtype=torch.float64)
    x = torch.randn(5, 1, 2, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    levels = torch.tensor([0, 1, 2, 1, 0])

    def model(y, lv):
        return -c[lv].view(-1, 1, 1, 1) * y

    per = annealed_ssm_loss(
        model, x, sigmas, levels, n_particles=2, generator=torch.Generator().manual_seed(7), reduction="none"
    )
    gen = torch.Generator().manual_seed(7)  # same draws in the same order: the perturbation, then the projections
    used = sigmas[levels].view(-1, 1, 1, 1)
    perturbed = x + torch.randn(x.shape, generator=gen, dtype=x.dtype) * used
    v = torch.randn((2, *x.shape), generator=gen, dtype=x.dtype)
    ci = c[levels]
    trace = -ci * v.pow(2).flatten(2).sum(dim=2)  # (2, B)
    norm = 0.5 * ci**2 * perturbed.pow(2).flatten(1).sum(dim=1)
    expected = sigmas[levels] ** 2 * ((trace + norm).mean(dim=0))
    assert torch.allclose(per, expected, atol=1e-12)
    assert float(
        annealed_ssm_loss(model, x, sigmas, levels, n_particles=2, generator=torch.Generator().manual_seed(7))
    ) == pytest.approx(float(expected.mean()))


def test_annealed_ssm_of_the_exact_score_of_gaussian_data_is_minus_half_d_sigma2_over_var():
    # exact score of N(mean, (d^2 + sigma^2) I): E[v^T J v + 0.5 ||s||^2] = -D / var + 0.5 D / var
    mean, data_std, dim = 0.5, 0.1, 16
    sigmas = make_sigmas(defaults("schedule"))
    x = mean + data_std * torch.randn(4000, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    exact = gaussian_perturbed_score(mean, data_std, sigmas)
    for level in (0, 9):
        levels = torch.full((4000,), level)
        per = annealed_ssm_loss(
            exact, x, sigmas, levels, generator=torch.Generator().manual_seed(100 + level), reduction="none"
        )
        var = data_std**2 + float(sigmas[level]) ** 2
        expected = -0.5 * dim * float(sigmas[level]) ** 2 / var
        # per-example std: sigma^2 (sqrt(2 D) / var + 0.5 sqrt(2 D) / var) at most
        standard_error = float(sigmas[level]) ** 2 * 1.5 * math.sqrt(2 * dim) / var / math.sqrt(4000)
        assert abs(float(per.mean()) - expected) < 5 * standard_error
