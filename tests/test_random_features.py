"""Statistical tests of the random feature maps (chapter 7).

Each random estimator must be unbiased, its mean squared error must match the closed
forms of lenakernel.feature_error (Performer, Lemma 2), orthogonal rows must beat
i.i.d. rows, and the linear-time smoother and FAVOR+ attention must approach their
exact counterparts as the number of features grows. Every draw is seeded, and the
margins are wide enough (z-scores well above the thresholds used) not to flake.
"""

import numpy as np
import pytest
import torch

import lenakernel as lk
from lenakernel import feature_error as fe

Z99 = 2.576  # two-sided 99% normal quantile


def _grouped_estimates(feature_map, x, y, projection, repetitions, **kwargs):
    """One kernel estimate per repetition, from one long projection cut into groups.

    Rows ``r*m, ..., (r+1)*m - 1`` of ``projection`` are repetition ``r``. A map whose
    output is several blocks of ``R*m`` features ([cos, sin], [exp(+), exp(-)]) is cut
    the same way. The map normalises by the total row count ``R*m``; a group of ``m``
    rows needs ``m``, hence the factor ``R``.
    """
    fx = np.asarray(feature_map(x, projection, **kwargs))
    fy = np.asarray(feature_map(y, projection, **kwargs))
    m = projection.shape[0] // repetitions
    blocks = fx.shape[-1] // (repetitions * m)
    return repetitions * (fx * fy).reshape(blocks, repetitions, m).sum(axis=(0, 2))


def _softmax_target(x, y):
    return np.exp(x @ y)


def _gaussian_target(x, y, bandwidth=1.0):
    return np.exp(-np.sum((x - y) ** 2) / (2 * bandwidth**2))


ESTIMATORS = {
    # name: (feature map, exact value, closed-form MSE)
    "fourier": (lk.random_fourier_features, _gaussian_target, fe.fourier_features_mse),
    "positive": (lk.positive_random_features, _softmax_target, fe.positive_features_mse),
    "trigonometric": (lk.trigonometric_random_features, _softmax_target, fe.trigonometric_features_mse),
    "hyperbolic": (lk.hyperbolic_random_features, _softmax_target, fe.hyperbolic_features_mse),
}

X = np.array([0.3, -0.4, 0.2, 0.5])
Y = np.array([0.1, 0.3, -0.6, 0.2])


@pytest.mark.parametrize("kind", ["iid", "orthogonal"])
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_estimators_are_unbiased(name, kind):
    feature_map, exact, _ = ESTIMATORS[name]
    repetitions, m = 5000, X.size  # m = d: each repetition is one orthogonal block
    projection = lk.sample_projection(repetitions * m, X.size, kind=kind, seed=11)
    estimates = _grouped_estimates(feature_map, X, Y, projection, repetitions)
    standard_error = estimates.std(ddof=1) / np.sqrt(repetitions)
    assert abs(estimates.mean() - exact(X, Y)) < 4 * standard_error


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@pytest.mark.parametrize("m", [1, 6])
def test_mse_matches_closed_form_within_99_percent_interval(name, m):
    feature_map, exact, closed_form = ESTIMATORS[name]
    repetitions = 20_000
    projection = lk.sample_projection(repetitions * m, X.size, kind="iid", seed=100 + m)
    squared = (_grouped_estimates(feature_map, X, Y, projection, repetitions) - exact(X, Y)) ** 2
    half_width = Z99 * squared.std(ddof=1) / np.sqrt(repetitions)
    predicted = float(closed_form(X, Y, m))
    assert abs(squared.mean() - predicted) <= half_width
    # The interval is narrow enough to tell 1/m from 1/(2m): the test has teeth.
    assert half_width < 0.25 * predicted


def test_bandwidth_of_fourier_features_matches_closed_form():
    repetitions, m, sigma = 20_000, 3, 0.6
    projection = lk.sample_projection(repetitions * m, X.size, kind="iid", seed=5)
    estimates = _grouped_estimates(lk.random_fourier_features, X, Y, projection, repetitions, bandwidth=sigma)
    squared = (estimates - _gaussian_target(X, Y, sigma)) ** 2
    predicted = float(fe.fourier_features_mse(X, Y, m, bandwidth=sigma))
    assert abs(squared.mean() - predicted) <= Z99 * squared.std(ddof=1) / np.sqrt(repetitions)


def _mse_and_error(feature_map, exact, x, y, kind, m, repetitions, seed):
    projection = lk.sample_projection(repetitions * m, x.size, kind=kind, seed=seed)
    squared = (_grouped_estimates(feature_map, x, y, projection, repetitions) - exact(x, y)) ** 2
    return squared.mean(), squared.std(ddof=1) / np.sqrt(repetitions)


@pytest.mark.parametrize("name", ["positive", "fourier"])
def test_orthogonal_rows_beat_iid_rows_when_m_equals_d(name):
    # Theorem 2 of the Performer paper (positive features) and Yu et al. (2016)
    # (Fourier features): with m <= d orthogonal rows the MSE is strictly smaller than
    # the i.i.d. MSE, which is known exactly (Lemma 2).
    feature_map, exact, closed_form = ESTIMATORS[name]
    d = 16
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((2, d))
    # |x + y| = 0.6: the gain is clear and the positive estimator's tail is still light.
    x, y = (0.6 / np.linalg.norm(x + y)) * np.stack([x, y])
    iid = float(closed_form(x, y, d))
    orth, orth_se = _mse_and_error(feature_map, exact, x, y, "orthogonal", d, 20_000, seed=22)
    # Well separated (more than five standard errors; the margin is larger still).
    assert iid - orth > 5 * orth_se, (iid, orth, orth_se)


def test_orthogonal_and_iid_agree_with_one_feature():
    # A single orthogonal row is just a Gaussian vector: no gain is possible.
    feature_map, exact, closed_form = ESTIMATORS["positive"]
    mse, se = _mse_and_error(feature_map, exact, X, Y, "orthogonal", 1, 20_000, seed=3)
    assert abs(mse - float(closed_form(X, Y, 1))) <= Z99 * se


def test_rff_nadaraya_watson_approaches_the_exact_smoother():
    rng = np.random.default_rng(0)
    x_train = rng.uniform(0, 1, 3000)
    y_train = np.sin(2 * np.pi * x_train) + 0.2 * rng.standard_normal(3000)
    x_query = np.linspace(0.05, 0.95, 40)
    bandwidth = 0.15
    exact = lk.nadaraya_watson(x_train, y_train, x_query, bandwidth=bandwidth)
    errors = []
    for m in [8, 128, 2048]:
        rms = [np.sqrt(np.mean((lk.rff_nadaraya_watson(x_train, y_train, x_query, bandwidth=bandwidth,
                                                       num_features=m, seed=s) - exact) ** 2))
               for s in range(3)]
        errors.append(np.mean(rms))
    assert errors[0] > errors[1] > errors[2], errors
    # 1/sqrt(m) decay: 256 times the features, roughly 1/16 of the error.
    assert errors[2] < errors[0] / 5
    assert errors[2] < 0.05


def test_rff_nadaraya_watson_is_seeded():
    rng = np.random.default_rng(1)
    x_train = rng.uniform(0, 1, (200, 2))
    y_train = x_train.sum(1)
    x_query = rng.uniform(0, 1, (5, 2))
    a = lk.rff_nadaraya_watson(x_train, y_train, x_query, bandwidth=0.3, num_features=64, seed=4)
    b = lk.rff_nadaraya_watson(x_train, y_train, x_query, bandwidth=0.3, num_features=64, seed=4)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("causal", [False, True])
def test_favor_attention_approaches_softmax_attention(causal):
    rng = np.random.default_rng(0)
    q, k = 0.5 * rng.standard_normal((2, 24, 8))
    v = rng.standard_normal((24, 3))
    exact = lk.softmax_attention(q, k, v, causal=causal)
    errors = []
    for m in [8, 256, 8192]:
        rel = []
        for seed in range(3):
            projection = lk.sample_projection(m, 8, kind="orthogonal", seed=seed)
            approx = lk.favor_attention(q, k, v, causal=causal, projection=projection)
            rel.append(np.linalg.norm(approx - exact) / np.linalg.norm(exact))
        errors.append(np.mean(rel))
    assert errors[0] > errors[1] > errors[2], errors
    # Monte-Carlo rate: 1024 times the features, about 1/32 of the error.
    assert errors[2] < errors[0] / 10
    assert errors[2] < 0.05


def test_favor_attention_uses_the_scale():
    rng = np.random.default_rng(3)
    q, k = 0.5 * rng.standard_normal((2, 10, 4))
    v = rng.standard_normal((10, 2))
    projection = lk.sample_projection(4096, 4, kind="orthogonal", seed=0)
    # scale s on (q, k) is the default 1/sqrt(d) on (q, k) times sqrt(s sqrt(d)), exactly.
    stretch = np.sqrt(0.2 * np.sqrt(4))
    assert np.allclose(lk.favor_attention(q, k, v, projection=projection, scale=0.2),
                       lk.favor_attention(stretch * q, stretch * k, v, projection=projection))
    approx = lk.favor_attention(q, k, v, projection=projection, scale=0.2)
    exact = lk.softmax_attention(q, k, v, scale=0.2)
    assert np.linalg.norm(approx - exact) / np.linalg.norm(exact) < 0.05


def test_positive_estimate_never_negative_but_trigonometric_can_be():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((2, 50, 4))
    projection = lk.sample_projection(4, 4, kind="iid", seed=0)
    positive = np.sum(lk.positive_random_features(x, projection)
                      * lk.positive_random_features(y, projection), -1)
    trig = np.sum(lk.trigonometric_random_features(x, projection)
                  * lk.trigonometric_random_features(y, projection), -1)
    assert np.all(positive > 0)
    assert np.any(trig < 0)


def test_torch_estimates_match_numpy():
    projection = lk.sample_projection(16, X.size, kind="orthogonal", seed=0)
    for name, (feature_map, _, _) in ESTIMATORS.items():
        from_numpy = feature_map(X, projection.numpy())
        from_torch = feature_map(torch.from_numpy(X), projection)
        assert isinstance(from_torch, torch.Tensor)
        assert np.allclose(from_numpy, from_torch.numpy()), name


# --- stratified directions (1-D) -------------------------------------------------------

def test_stratified_directions_have_one_draw_per_equal_probability_slice():
    omega = lk.sample_projection(100, 1, kind="stratified", seed=3)[:, 0].to(torch.float64)
    # Slice i of N(0, 1) is the interval of probability [i/m, (i+1)/m).
    probabilities = torch.special.ndtr(omega)
    slices = torch.floor(probabilities * 100)
    assert torch.equal(slices, torch.arange(100, dtype=torch.float64))


def test_stratified_fourier_features_are_unbiased_and_beat_iid():
    distance, m, repetitions = 0.7, 32, 400
    exact = np.exp(-distance ** 2 / 2)
    estimates = {}
    for kind in ("iid", "stratified"):
        values = []
        for seed in range(repetitions):
            omega = lk.sample_projection(m, 1, kind=kind, seed=seed).numpy()
            values.append(np.cos(omega[:, 0] * distance).mean())
        estimates[kind] = np.array(values)
    stratified = estimates["stratified"]
    standard_error = stratified.std(ddof=1) / np.sqrt(repetitions)
    assert abs(stratified.mean() - exact) < 4 * standard_error + 1e-12
    assert np.mean((stratified - exact) ** 2) < 0.1 * np.mean((estimates["iid"] - exact) ** 2)


def test_stratified_needs_one_dimension():
    with pytest.raises(ValueError, match="kind='stratified'.*dim=1"):
        lk.sample_projection(8, 3, kind="stratified", seed=0)
