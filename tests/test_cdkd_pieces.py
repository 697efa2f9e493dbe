"""CD-KD paper pieces: the distillation losses (0 when the student equals the
teacher, positive otherwise, gradients finite), the attention gate's
normalisation, and the pseudo-decoder's shapes and wiring (tiny shapes)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxar.distill import losses
from jaxar.modules.attention_gate import AttentionGate, normalise_scores
from jaxar.modules.pseudo_decoder import CrossModalAttention, PseudoDecoder

N, T, D = 2, 4, 16


def feats(seed, shape=(N, T, D)):
    return jax.random.normal(jax.random.PRNGKey(seed), shape)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("mu", ["clip", "zero"])
def test_losses_zero_on_equal_features_positive_otherwise(normalize, mu):
    h = feats(0)
    alpha = normalise_scores(feats(1, (N, T)), 0.5)
    assert np.allclose(losses.spatial_loss(h, h, alpha, normalize), 0.0)
    assert np.allclose(losses.temporal_loss(h, h, normalize, mu, base_graph=True), 0.0, atol=1e-10)
    other = h + 0.5 * feats(2)
    assert np.all(np.asarray(losses.spatial_loss(h, other, alpha, normalize)) > 1e-3)
    assert np.all(np.asarray(losses.temporal_loss(h, other, normalize, mu)) > 1e-6)


def test_temporal_loss_sees_only_relations_spatial_loss_sees_values():
    """Reversing the clip reverses the graph; swapping two frames changes it."""
    h = feats(3)
    perm = h[:, ::-1]          # the graph of the reversed clip is the reversed graph
    a = losses.adjacency(losses.prepare(h))
    b = losses.adjacency(losses.prepare(perm))
    assert np.allclose(a[:, ::-1, ::-1], b, atol=1e-6)
    # a frame swap that is not a symmetry of the clip is seen by the temporal loss
    swapped = h.at[:, 0].set(h[:, 1]).at[:, 1].set(h[:, 0])
    assert np.all(np.asarray(losses.temporal_loss(h, swapped)) > 1e-6)


def test_births_match_eq5_by_hand():
    h = jnp.asarray([[[3.0, 4.0], [0.0, 0.0]]])            # (1, 2, 2), mu = (1.5, 2)
    v1, v2, v3 = losses.births(h, "clip")
    d2 = 1.5 ** 2 + 2.0 ** 2
    assert np.allclose(v1[0, :, 0], np.exp(-d2 / 2))
    assert np.allclose(v2[0, :, 0], np.exp(-np.sqrt(d2) / 2), atol=1e-6)
    assert np.allclose(v3[0, 0], [3 * 3 + 3 + 1, 4 * 4 + 4 + 1])
    adj = losses.adjacency(v3)
    assert adj.shape == (1, 2, 2) and np.allclose(adj[0, 0, 1], (13 - 1) ** 2 + (21 - 1) ** 2)


def test_loss_gradients_are_finite_at_the_optimum():
    h = feats(4)
    const = jnp.broadcast_to(h[:, :1], h.shape)          # every frame equal to mu: sqrt(0) in TG2
    for student in (h, const):
        g = jax.grad(lambda s: jnp.sum(losses.temporal_loss(const, s) + losses.spatial_loss(h, s)))(student)
        assert np.all(np.isfinite(np.asarray(g)))


def test_total_loss_uses_the_paper_weights():
    assert float(losses.total_loss(jnp.float32(1.0), jnp.float32(2.0), jnp.float32(3.0))) == pytest.approx(4.2)


def test_losses_reject_mismatched_features():
    with pytest.raises(ValueError, match=r"\(N, T, D\)"):
        losses.spatial_loss(feats(0), feats(0, (N, T, D + 1)))
    with pytest.raises(ValueError, match="mu must be one of"):
        losses.temporal_loss(feats(0), feats(1), mu="batch")
    with pytest.raises(ValueError, match="alpha"):
        losses.spatial_loss(feats(0), feats(1), jnp.ones((N, T + 1)))


@pytest.mark.parametrize("floor", [0.0, 0.5, 1.0])
def test_gate_weights_sum_to_T_and_keep_the_floor(floor):
    f_m, f_r = feats(5, (N, T, 3, 3, 6)), feats(6, (N, T, 2, 2, 5))
    gate = AttentionGate(hidden=8, floor=floor)
    v = gate.init(jax.random.PRNGKey(0), f_m, f_r)
    # spread the scores so the softmax is far from uniform
    v = jax.tree.map(lambda p: 10.0 * p, v)
    alpha = np.asarray(gate.apply(v, f_m, f_r))
    assert alpha.shape == (N, T)
    assert np.allclose(alpha.sum(axis=1), T, atol=1e-4)
    assert alpha.min() >= floor - 1e-6
    if floor < 1.0:
        assert alpha.std(axis=1).max() > 1e-3       # the gate does weigh frames differently
    else:
        assert np.allclose(alpha, 1.0)
    with pytest.raises(ValueError, match="floor"):
        normalise_scores(jnp.zeros((1, T)), 1.5)


def test_gate_cannot_collapse_even_for_extreme_scores():
    alpha = np.asarray(normalise_scores(jnp.asarray([[-1e4, 0.0, 0.0, 0.0]]), 0.25))
    assert alpha[0, 0] == pytest.approx(0.25) and alpha.sum() == pytest.approx(T)


def test_pseudo_decoder_shapes_and_both_keys_matter():
    f_i, f_m, f_r = feats(7, (N, T, 3, 3, 12)), feats(8, (N, T, 3, 3, 6)), feats(9, (N, T, 3, 3, 5))
    dec = PseudoDecoder(out_features=10, width=8, heads=2, lstm_features=4)
    v = dec.init(jax.random.PRNGKey(0), f_i, f_m, f_r)
    out = dec.apply(v, f_i, f_m, f_r)
    assert out.shape == (N, T, 3, 3, 10) and out.dtype == jnp.float32
    p = v["params"]
    assert set(p["attention"]) == {"query", "value", "key_mv", "key_residual", "out_mv", "out_residual"}
    assert p["attention"]["key_mv"]["kernel"].shape == (6, 8)
    assert set(p["temporal"]) == {"forward", "backward"}
    for changed in ((f_i, f_m + 1.0, f_r), (f_i, f_m, f_r * 2.0)):
        assert not np.allclose(dec.apply(v, *changed), out)
    # bidirectional: changing the last frame changes the first frame's output
    late = dec.apply(v, f_i.at[:, -1].add(1.0), f_m, f_r)
    assert not np.allclose(late[:, 0], out[:, 0])


def test_attention_is_eq1_by_hand():
    """Single head: out = sum over branches of W_out softmax(q k^T / sqrt(d)) v."""
    f_i, f_m, f_r = feats(10, (1, 1, 2, 2, 3)), feats(11, (1, 1, 2, 2, 3)), feats(12, (1, 1, 2, 2, 3))
    att = CrossModalAttention(width=4, heads=1)
    v = att.init(jax.random.PRNGKey(1), f_i, f_m, f_r)["params"]
    lin = lambda x, p: x @ p["kernel"] + p["bias"]            # noqa: E731
    tok = lambda f: f.reshape(4, 3)                          # noqa: E731
    q, val = lin(tok(f_i), v["query"]), lin(tok(f_i), v["value"])
    want = 0
    for name, f in (("mv", f_m), ("residual", f_r)):
        k = lin(tok(f), v[f"key_{name}"])
        want = want + lin(jax.nn.softmax(q @ k.T / 2.0, axis=-1) @ val, v[f"out_{name}"])
    got = att.apply({"params": v}, f_i, f_m, f_r).reshape(4, 4)
    assert np.allclose(got, want, atol=1e-5)


def test_pseudo_decoder_rejects_mismatched_grids():
    with pytest.raises(ValueError, match="one \\(N, T, h, w\\) grid"):
        CrossModalAttention(8, 2).init(jax.random.PRNGKey(0), feats(0, (1, T, 3, 3, 4)),
                                       feats(0, (1, T, 2, 2, 4)), feats(0, (1, T, 3, 3, 4)))
