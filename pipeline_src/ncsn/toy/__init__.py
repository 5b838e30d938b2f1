"""Toy experiments of the paper (Figs. 1-3): a Gaussian mixture with exact scores."""

from ncsn.toy.gmm import GaussianMixture

__all__ = ["GaussianMixture"]
