"""Tests for lenakernel/feature_maps.py: exact identities, precision, projections, errors.

The statistical properties of the random maps (unbiasedness, closed-form MSE, orthogonal
beats iid) are tested in tests/test_random_features.py.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import lenakernel as lk

RANDOM_MAPS = [
    lk.random_fourier_features,
    lk.positive_random_features,
    lk.trigonometric_random_features,
    lk.hyperbolic_random_features,
]
STABILISED_MAPS = [lk.positive_random_features, lk.trigonometric_random_features, lk.hyperbolic_random_features]
DETERMINISTIC_MAPS = [lk.elu_plus_one, lk.relu_features, lk.taylor_features]

finite = st.floats(-3, 3, allow_nan=False, allow_infinity=False)


# ----------------------------------------------------------------- deterministic maps

def test_elu_plus_one_matches_definition():
    x = torch.linspace(-8, 8, 101, dtype=torch.float64)
    assert torch.allclose(lk.elu_plus_one(x), torch.nn.functional.elu(x) + 1, rtol=1e-12, atol=1e-15)


def test_elu_plus_one_accurate_where_elu_plus_one_cancels():
    x = torch.tensor([-30.0, -60.0], dtype=torch.float32)
    assert bool((torch.nn.functional.elu(x) + 1 == 0).all())  # the naive form rounds to zero
    assert torch.allclose(lk.elu_plus_one(x), torch.exp(x), rtol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_elu_plus_one_never_zero_in_low_precision(dtype):
    x = torch.linspace(-100, 5, 211).to(dtype)
    phi = lk.elu_plus_one(x)
    assert phi.dtype == dtype
    assert bool((phi > 0).all()) and bool(torch.isfinite(phi).all())
    assert bool((phi >= torch.finfo(dtype).tiny).all())


def test_elu_plus_one_gradient_is_one_at_zero_and_finite_for_large_inputs():
    x = torch.tensor([0.0, 1000.0, -1000.0, -2.0], dtype=torch.float64, requires_grad=True)
    lk.elu_plus_one(x).sum().backward()
    assert x.grad.tolist()[:3] == [1.0, 1.0, 0.0]
    assert math.isclose(x.grad[3].item(), math.exp(-2.0), rel_tol=1e-12)


def test_relu_features():
    assert np.array_equal(lk.relu_features(np.array([-2.0, 0.0, 3.0])), [0.0, 0.0, 3.0])


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.integers(1, 6).map(lambda d: (2, d)), elements=finite))
def test_taylor_inner_product_is_exact(xy):
    x, y = xy
    s = x @ y
    got = lk.taylor_features(x) @ lk.taylor_features(y)
    assert got == pytest.approx(1 + s + s * s / 2, rel=1e-12, abs=1e-12)


def test_taylor_shape_and_batch():
    x = torch.randn(2, 3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    phi = lk.taylor_features(x)
    assert phi.shape == (2, 3, 1 + 5 + 25)
    gram = phi @ phi.mT
    s = x @ x.mT
    assert torch.allclose(gram, 1 + s + s**2 / 2, rtol=1e-12)


@pytest.mark.parametrize("phi", DETERMINISTIC_MAPS)
def test_kinds_and_dtypes_are_kept(phi):
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    out = phi(x)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    t = torch.tensor(x, dtype=torch.float32)
    assert phi(t).dtype == torch.float32


@pytest.mark.parametrize("phi", DETERMINISTIC_MAPS)
def test_gradients_flow(phi):
    x = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
    assert torch.autograd.gradcheck(phi, (x,))


# ------------------------------------------------------------------------ projections

def test_projection_needs_one_source_of_randomness():
    with pytest.raises(ValueError, match="`seed` is required"):
        lk.sample_projection(4, 3)
    with pytest.raises(TypeError, match="`seed`"):
        lk.sample_projection(4, 3, seed=1.5)
    a = lk.sample_projection(4, 3, seed=torch.Generator().manual_seed(5))
    assert torch.equal(a, lk.sample_projection(4, 3, seed=torch.Generator().manual_seed(5)))


def test_generator_is_the_deprecated_name_of_a_generator_seed():
    with pytest.warns(DeprecationWarning, match=r"sample_projection\(seed=...\)"):
        old = lk.sample_projection(4, 3, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(old, lk.sample_projection(4, 3, seed=np.random.default_rng(0)))
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="give `seed` only"):
        lk.sample_projection(4, 3, seed=0, generator=torch.Generator())


def test_projection_bad_arguments():
    with pytest.raises(ValueError, match="`kind`"):
        lk.sample_projection(4, 3, kind="sobol", seed=0)
    with pytest.raises(ValueError, match="`num_features`"):
        lk.sample_projection(0, 3, seed=0)
    with pytest.raises(ValueError, match="`dim`"):
        lk.sample_projection(4, 0, seed=0)
    with pytest.raises(TypeError, match="`dtype`"):
        lk.sample_projection(4, 3, seed=0, dtype=torch.int64)


@pytest.mark.parametrize("kind", ["iid", "orthogonal"])
def test_projection_is_reproducible_and_typed(kind):
    a = lk.sample_projection(10, 4, kind=kind, seed=3)
    b = lk.sample_projection(10, 4, kind=kind, seed=3)
    c = lk.sample_projection(10, 4, kind=kind, seed=4)
    assert isinstance(a, torch.Tensor) and a.shape == (10, 4) and a.dtype == torch.float64
    assert torch.equal(a, b) and not torch.equal(a, c)
    g = torch.Generator().manual_seed(3)
    assert torch.equal(lk.sample_projection(10, 4, kind=kind, seed=g), a)
    n1 = lk.sample_projection(10, 4, kind=kind, seed=np.random.default_rng(0))
    n2 = lk.sample_projection(10, 4, kind=kind, seed=np.random.default_rng(0))
    assert isinstance(n1, np.ndarray) and n1.dtype == np.float64 and np.array_equal(n1, n2)
    assert lk.sample_projection(3, 2, kind=kind, seed=0, dtype=torch.float32).dtype == torch.float32


@pytest.mark.parametrize("num_features,dim", [(8, 4), (10, 4), (3, 5), (1, 1)])
def test_orthogonal_blocks_are_orthogonal(num_features, dim):
    w = lk.sample_projection(num_features, dim, kind="orthogonal", seed=0)
    assert w.shape == (num_features, dim)
    for start in range(0, num_features, dim):
        block = w[start:start + dim]
        gram = block @ block.T
        off_diagonal = gram - torch.diag(torch.diag(gram))
        assert off_diagonal.abs().max() < 1e-10 * gram.diag().max()


def test_orthogonal_rows_have_chi_lengths_and_symmetric_directions():
    dim, blocks = 3, 2000
    w = lk.sample_projection(dim * blocks, dim, kind="orthogonal", seed=5)
    lengths = w.norm(dim=1)
    # chi(dim) lengths: E||w||^2 = dim, and not all equal (rows are not simply sqrt(dim) long).
    assert abs(float((lengths**2).mean()) - dim) < 0.15
    assert float(lengths.std()) > 0.3
    unit = (w / lengths.unsqueeze(1)).reshape(blocks, dim, dim)
    # The sign fix makes Q Haar: each diagonal entry is positive half the time. Without it,
    # Householder QR gives Q[0, 0] < 0 in every block.
    positive = (torch.diagonal(unit, dim1=-2, dim2=-1) > 0).double().mean(0)
    assert bool(((positive > 0.45) & (positive < 0.55)).all())
    assert float(unit.mean(0).abs().max()) < 0.05


# ----------------------------------------------------------------------- random maps

def _projection(m=16, d=3, seed=0):
    return lk.sample_projection(m, d, kind="orthogonal", seed=seed)


@pytest.mark.parametrize("phi", RANDOM_MAPS)
def test_random_map_shapes_and_kinds(phi):
    w = _projection()
    x = np.random.default_rng(0).normal(size=(2, 5, 3)) * 0.5
    out = phi(x, w)
    width = 16 if phi is lk.positive_random_features else 32
    assert isinstance(out, np.ndarray) and out.shape == (2, 5, width)
    t = phi(torch.tensor(x, dtype=torch.float32), w.numpy())  # projection may be the other kind
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    assert np.allclose(t.numpy(), out, rtol=1e-4, atol=1e-5)


def test_exact_self_inner_products():
    w = _projection(m=7)
    x = torch.tensor([0.3, -0.7, 1.1], dtype=torch.float64)
    rff = lk.random_fourier_features(x, w, bandwidth=0.4)
    assert float(rff @ rff) == pytest.approx(1.0, abs=1e-14)  # cos^2 + sin^2 = 1
    trig = lk.trigonometric_random_features(x, w)
    assert float(trig @ trig) == pytest.approx(math.exp(float(x @ x)), rel=1e-13)


def test_positive_and_hyperbolic_are_positive_and_match_formulas():
    w = _projection(m=5)
    x = torch.tensor([[0.2, -0.4, 0.9]], dtype=torch.float64)
    proj = x @ w.T
    half = 0.5 * (x * x).sum(-1, keepdim=True)
    pos = lk.positive_random_features(x, w)
    assert torch.allclose(pos, torch.exp(proj - half) / math.sqrt(5), rtol=1e-14)
    hyp = lk.hyperbolic_random_features(x, w)
    expected = torch.cat([torch.exp(proj - half), torch.exp(-proj - half)], -1) / math.sqrt(10)
    assert torch.allclose(hyp, expected, rtol=1e-14)
    assert bool((pos > 0).all()) and bool((hyp > 0).all())


def test_bandwidth_scales_the_angles():
    w = _projection()
    x = np.array([0.5, -1.0, 2.0])
    assert np.allclose(lk.random_fourier_features(x, w, bandwidth=2.0), lk.random_fourier_features(x / 2, w))
    bandwidth = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    lk.random_fourier_features(torch.tensor(x), w, bandwidth=bandwidth).sum().backward()
    assert bandwidth.grad is not None and torch.isfinite(bandwidth.grad)


@pytest.mark.parametrize("phi", STABILISED_MAPS)
def test_stabilizer_is_an_exact_log_offset(phi):
    w = _projection(m=8)
    x = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    plain = phi(x, w)
    assert torch.allclose(phi(x, w, stabilizer=1.5), plain * math.exp(-1.5), rtol=1e-13)
    per_row = torch.tensor([[0.0], [1.0], [-2.0], [3.0]], dtype=torch.float64)
    assert torch.allclose(phi(x, w, stabilizer=per_row), plain * torch.exp(-per_row), rtol=1e-13)
    maxed = phi(x, w, stabilizer="max")
    ratio = maxed / plain  # one constant per row
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), rtol=1e-12)
    if phi is not lk.trigonometric_random_features:
        assert torch.allclose(maxed.max(-1).values, maxed.new_full((4,), maxed.max().item()))


@pytest.mark.parametrize("phi", STABILISED_MAPS)
def test_stabilizer_errors(phi):
    w = _projection()
    x = np.ones((4, 3))
    with pytest.raises(ValueError, match="`stabilizer`"):
        phi(x, w, stabilizer="min")
    with pytest.raises(ValueError, match="`stabilizer`"):
        phi(x, w, stabilizer=np.zeros((4, 16)))
    for bad in ({"c": 1.0}, True, np.array([1 + 1j])):
        with pytest.raises(TypeError, match="`stabilizer`"):
            phi(x, w, stabilizer=bad)
    with pytest.raises(ValueError, match="`stabilizer` contains NaN"):
        phi(x, w, stabilizer=np.full((4, 1), np.nan))


def _norm_ten_inputs(dtype):
    g = torch.Generator().manual_seed(7)
    x = torch.randn(64, 16, dtype=torch.float64, generator=g)
    radii = torch.linspace(0.1, 10.0, 64, dtype=torch.float64).unsqueeze(1)
    return (x / x.norm(dim=1, keepdim=True) * radii).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("phi", DETERMINISTIC_MAPS + RANDOM_MAPS)
def test_low_precision_neither_collapses_nor_overflows(phi, dtype):
    x = _norm_ten_inputs(dtype)
    kwargs = {}
    if phi in STABILISED_MAPS and dtype == torch.float16:
        # float16 tops out near e^11: exp(||x||^2 / 2) for ||x|| = 10 needs the log offset.
        kwargs = {"stabilizer": "max"}
    if phi in DETERMINISTIC_MAPS:
        out = phi(x)
    else:
        out = phi(x, lk.sample_projection(64, 16, kind="orthogonal", seed=0), **kwargs)
    assert out.dtype == dtype
    assert bool(torch.isfinite(out).all())
    if phi is not lk.relu_features:  # a ReLU row of negatives is legitimately zero
        assert bool((out.abs().amax(-1) > 0).all())


def test_projection_errors_name_the_argument():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="`projection` has dim 4"):
        lk.positive_random_features(x, lk.sample_projection(5, 4, seed=0))
    with pytest.raises(ValueError, match="`projection` must have shape"):
        lk.random_fourier_features(x, np.ones(3))
    with pytest.raises(TypeError, match="`projection`"):
        lk.hyperbolic_random_features(x, "omega")
    with pytest.raises(ValueError, match="`bandwidth`"):
        lk.random_fourier_features(x, np.ones((2, 3)), bandwidth=0.0)
    with pytest.raises(ValueError, match="`x`"):
        lk.elu_plus_one(torch.tensor(1.0))
    with pytest.raises(ValueError, match="`x` is empty"):
        lk.taylor_features(np.ones((3, 0)))


def test_an_unhashable_callable_map_still_works():
    import lenakernel as lk

    class Phi:  # defines __eq__ without __hash__: cannot be a dict key
        def __eq__(self, other):
            return False

        def __call__(self, x):
            return torch.relu(x)

    q = torch.randn(5, 3, dtype=torch.float64)
    torch.testing.assert_close(lk.linear_attention(q, q, q, feature_map=Phi()),
                               lk.linear_attention(q, q, q, feature_map="relu"))
    assert lk.LinearAttentionState(3, 3, feature_map=Phi()).step(q[0], q[0], q[0]).shape == (3,)
