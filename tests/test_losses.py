"""Poly-1 / cross-entropy against direct numpy formulas; top-k accuracy."""
import jax.numpy as jnp
import numpy as np
import pytest

from jaxar.losses import cross_entropy, make_loss_fn, poly1_cross_entropy, topk_correct

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(6, 5)).astype(np.float32) * 3
LABELS = np.array([0, 4, 2, 2, 1, 3], np.int32)


def numpy_poly1(logits, labels, eps, smoothing):
    z = logits.astype(np.float64)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    k = z.shape[1]
    q = np.full_like(p, smoothing / k)
    q[np.arange(len(labels)), labels] += 1 - smoothing
    ce = -(q * np.log(p)).sum(1)
    return ce + eps * (1 - (q * p).sum(1))


@pytest.mark.parametrize("eps,smoothing", [(1.0, 0.0), (2.5, 0.0), (1.0, 0.1), (0.5, 0.3)])
def test_poly1_matches_numpy(eps, smoothing):
    got = np.asarray(poly1_cross_entropy(jnp.asarray(LOGITS), jnp.asarray(LABELS), eps, smoothing))
    np.testing.assert_allclose(got, numpy_poly1(LOGITS, LABELS, eps, smoothing), rtol=1e-5, atol=1e-6)


def test_poly1_without_smoothing_is_ce_plus_one_minus_py():
    z = LOGITS.astype(np.float64)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    py = p[np.arange(len(LABELS)), LABELS]
    want = -np.log(py) + 1.0 * (1 - py)          # the paper's eq. (1)
    np.testing.assert_allclose(np.asarray(poly1_cross_entropy(LOGITS, LABELS)), want, rtol=1e-5)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_eps_zero_equals_cross_entropy(smoothing):
    a = poly1_cross_entropy(LOGITS, LABELS, 0.0, smoothing)
    b = cross_entropy(LOGITS, LABELS, smoothing)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_allclose(np.asarray(b), numpy_poly1(LOGITS, LABELS, 0.0, smoothing), rtol=1e-5)


def test_loss_factory_and_bad_names():
    np.testing.assert_array_equal(np.asarray(make_loss_fn("ce", 7.0)(LOGITS, LABELS)),
                                  np.asarray(cross_entropy(LOGITS, LABELS)))
    with pytest.raises(ValueError, match="poly1"):
        make_loss_fn("focal")
    with pytest.raises(ValueError, match="smoothing"):
        cross_entropy(LOGITS, LABELS, 1.0)


def test_topk_correct():
    logits = jnp.array([[0.1, 0.9, 0.0, 0.5], [0.8, 0.1, 0.05, 0.3], [0.0, 0.1, 0.2, 0.3]])
    labels = jnp.array([1, 3, 0])
    np.testing.assert_array_equal(np.asarray(topk_correct(logits, labels, 1)), [1, 0, 0])
    np.testing.assert_array_equal(np.asarray(topk_correct(logits, labels, 2)), [1, 1, 0])
    np.testing.assert_array_equal(np.asarray(topk_correct(logits, labels, 5)), [1, 1, 1])
