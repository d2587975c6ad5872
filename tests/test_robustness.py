"""Every public function, on generated good and bad input (the policy in CONTRIBUTING).

For each function a good call is drawn (sizes, values, NumPy or torch, sometimes an
extreme width); then, most of the time, one argument is replaced by a bad value (None,
complex numbers, a string, NaN or infinity, a wrong number of dimensions, a non-bool
flag, a width <= 0 ...). The call must either return finite values of the documented
shape and of the caller's kind, or raise ``ValueError``/``TypeError`` whose message names
the argument. Maps applied entry by entry or row by row (kernels K(u), feature maps)
and the linear-attention hot paths do not scan for NaN (the written policy): there, NaN
in the input may give NaN out, but a NaN query row leaves every other row finite, and
finite input never gives NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lenakernel as lk

ROBUST = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))

# Bad values by the kind of argument; each must be refused with an error naming it.
BAD_WIDTHS = [0.0, -1.0, math.nan, math.inf, None, "1", 1 + 1j, True, np.array([1.0, 2.0])]
EXTREME_WIDTHS = [1e-300, 1e-30, 1e-8, 1e8, 1e30, 1e300]
BAD_FLAGS = ["False", 1, None, 0.0]
BAD_INTS = [0, -1, 1.5, True, None, "3"]
BAD_SEEDS = ["0", 1.5, -1, [0]]
BAD_DTYPES = [torch.int64, "float64", np.float64]
BAD_ARRAYS = ["none", "complex", "nan", "inf", "string", "extra_axis", "bool_scalar"]
NAN_LABELS = {"nan", "inf"}


@dataclass
class Spec:
    name: str
    call: Callable
    good: Callable  # (data, kind) -> kwargs
    args: dict  # argument -> "array" | "width" | "flag" | "int" | "seed" | "dtype"
    shape: Callable | None = None  # kwargs -> expected shape(s) of the result
    nan_passthrough: bool = False
    optional_arrays: set = field(default_factory=set)
    optional_widths: set = field(default_factory=set)  # None means the default
    log_values: bool = False  # a log-kernel: -inf (a kernel value of 0) is a finite answer's log
    same_kind: bool = True  # False: documented to return NumPy (a loss history)
    extreme_may_refuse: bool = False  # an extreme width may be refused (by name) where no limit exists


DTYPES = {"numpy": np.float64, "numpy32": np.float32, "torch": np.float64, "torch32": np.float32,
          "torch16": np.float16}


def _array(data, kind, shape, scale=1.0):
    values = data.draw(st.lists(st.floats(-1, 1), min_size=math.prod(shape), max_size=math.prod(shape)))
    array = (np.array(values, dtype=np.float64).reshape(shape) * scale).astype(DTYPES[kind])
    return torch.from_numpy(array) if kind.startswith("torch") else array


def _sizes(data, low=1, high=4):
    return data.draw(st.integers(low, high))


def _width(data, low=0.05, high=5.0):
    extreme = data.draw(st.integers(0, 9)) == 0
    return data.draw(st.sampled_from(EXTREME_WIDTHS)) if extreme else data.draw(st.floats(low, high))


def _bad(data, role, value):
    """A bad value for an argument of this role, and a label saying what it is."""
    if role == "width":
        bad = data.draw(st.sampled_from(BAD_WIDTHS))
        return bad, "width"
    if role == "flag":
        return data.draw(st.sampled_from(BAD_FLAGS)), "flag"
    if role == "int":
        return data.draw(st.sampled_from(BAD_INTS)), "int"
    if role == "seed":
        return data.draw(st.sampled_from(BAD_SEEDS)), "seed"
    if role == "dtype":
        return data.draw(st.sampled_from(BAD_DTYPES)), "dtype"
    label = data.draw(st.sampled_from(BAD_ARRAYS))
    is_torch = isinstance(value, torch.Tensor)
    array = value.detach().numpy() if is_torch else np.asarray(value)
    if label == "none":
        return None, label
    if label == "string":
        return np.full(array.shape or (1,), "a"), label
    if label == "bool_scalar":
        return True, label
    if label == "complex":
        bad = array.astype(np.complex128) + 1j
    elif label == "extra_axis":
        bad = array[None, None]
    elif array.size == 0:
        return None, "none"
    else:
        bad = array.copy()
        bad.reshape(-1)[data.draw(st.integers(0, array.size - 1))] = np.nan if label == "nan" else np.inf
    return (torch.from_numpy(bad) if is_torch else bad), label


def _leaves(result):
    if isinstance(result, tuple):
        return [leaf for part in result for leaf in _leaves(part)]
    return [result]


def _check_result(spec, kwargs, result, kind, label):
    leaves = [leaf for leaf in _leaves(result) if isinstance(leaf, (np.ndarray, torch.Tensor, float))]
    has_arrays = spec.same_kind and "array" in spec.args.values() and label != "bool_scalar"
    for leaf in leaves:
        if isinstance(leaf, float):
            assert math.isfinite(leaf), f"{spec.name}: non-finite float {leaf}"
            continue
        if has_arrays:
            expected_kind = torch.Tensor if kind.startswith("torch") else np.ndarray
            assert isinstance(leaf, expected_kind), f"{spec.name}: {kind} in, {type(leaf).__name__} out"
        values = torch.as_tensor(leaf.detach() if isinstance(leaf, torch.Tensor) else leaf)
        if spec.log_values:
            values = values.masked_fill(values == -math.inf, 0.0)
        if not (spec.nan_passthrough and label in NAN_LABELS):
            assert bool(torch.isfinite(values).all()), f"{spec.name}: non-finite output for input {label}"
    if spec.shape is not None and label in (None, "extreme"):
        expected = spec.shape(kwargs)
        expected = expected if isinstance(expected, list) else [expected]
        got = [tuple(leaf.shape) for leaf in leaves]
        assert got == [tuple(e) for e in expected], f"{spec.name}: shape {got}, expected {expected}"


def _rows(kwargs, name):
    return np.shape(np.asarray(kwargs[name].detach() if isinstance(kwargs[name], torch.Tensor) else kwargs[name]))


# ------------------------------------------------------------------- the specifications

def _regression(data, kind, queries=True, outputs_2d=None, min_n=1):
    n, m, p = _sizes(data, min_n, 6), _sizes(data, 0, 4), _sizes(data, 1, 2)
    one_d = data.draw(st.booleans())
    x = _array(data, kind, (n,) if one_d else (n, p), scale=3)
    y = _array(data, kind, (n, 2) if outputs_2d or (outputs_2d is None and data.draw(st.booleans())) else (n,))
    out = {"x_train": x, "y_train": y}
    if queries:
        out["x_query"] = _array(data, kind, (m,) if one_d else (m, p), scale=3)
    return out


def _nw_shape(kw):
    m = _rows(kw, "x_query")[0]
    y = _rows(kw, "y_train")
    return (m,) + y[1:]


def _attention_inputs(data, kind, same_length=False, min_n=0):
    b, m, n, d, dv = _sizes(data, 1, 2), _sizes(data, 0, 4), _sizes(data, min_n, 4), _sizes(data, 1, 3), _sizes(data, 1, 2)
    if same_length:
        n = m = max(m, 1)
    return {"q": _array(data, kind, (b, m, d), 2), "k": _array(data, kind, (b, n, d), 2),
            "v": _array(data, kind, (b, n, dv))}


def _attention_shape(kw):
    q, v = _rows(kw, "q"), _rows(kw, "v")
    return q[:-1] + v[-1:]


def _backward_inputs(data, kind):
    """Features of causal linear attention (positive, as feature maps give), values, an output gradient."""
    b, n, r, dv = _sizes(data, 1, 2), _sizes(data, 1, 4), _sizes(data, 1, 3), _sizes(data, 1, 2)
    return {"phi_q": abs(_array(data, kind, (b, n, r))) + 0.5, "phi_k": abs(_array(data, kind, (b, n, r))) + 0.5,
            "v": _array(data, kind, (b, n, dv)), "grad_out": _array(data, kind, (b, n, dv)),
            "chunk_size": _sizes(data, 1, 3)}


def _backward_shape(kw):
    q, v = _rows(kw, "phi_q"), _rows(kw, "v")
    return [q, q, q[:-1] + v[-1:]]


def _kernel_spec(name):
    return Spec(name, getattr(lk, name), lambda data, kind: {"u": _array(data, kind, (_sizes(data, 0, 5),), 3)},
                {"u": "array"}, shape=lambda kw: _rows(kw, "u"), nan_passthrough=True)


def _feature_spec(name, features):
    return Spec(name, getattr(lk, name),
                lambda data, kind: {"x": _array(data, kind, (_sizes(data, 0, 3), _sizes(data, 1, 3)), 2)},
                {"x": "array"}, shape=lambda kw: _rows(kw, "x")[:-1] + (features(_rows(kw, "x")[-1]),),
                nan_passthrough=True)


def _random_feature_spec(name, per_row):
    def good(data, kind):
        d = _sizes(data, 1, 3)
        return {"x": _array(data, kind, (_sizes(data, 0, 3), d), 2),
                "projection": lk.sample_projection(_sizes(data, 1, 5), d, seed=0).numpy()}

    return Spec(name, getattr(lk, name), good, {"x": "array", "projection": "array"},
                shape=lambda kw: _rows(kw, "x")[:-1] + (per_row * np.shape(kw["projection"])[0],),
                nan_passthrough=True)


def _mse_spec(name):
    def good(data, kind):
        d = _sizes(data, 1, 3)
        return {"x": _array(data, kind, (_sizes(data, 1, 3), d)), "y": _array(data, kind, (d,)),
                "num_features": _sizes(data, 1, 64)}

    return Spec(name, getattr(lk, name), good, {"x": "array", "y": "array", "num_features": "int"},
                shape=lambda kw: _rows(kw, "x")[:-1])


def _in_context_inputs(data, kind):
    t, n, m = _sizes(data, 1, 2), _sizes(data, 1, 5), _sizes(data, 0, 3)
    return {"x_context": _array(data, kind, (t, n)), "y_context": _array(data, kind, (t, n)),
            "x_query": _array(data, kind, (t, m))}


def _state_step(feature_dim, value_dim, q_t, k_t, v_t):
    state = lk.LinearAttentionState(feature_dim, value_dim)
    state.step(q_t, k_t, v_t)
    return state.step(q_t, k_t, v_t)


def _state_good(data, kind):
    d, dv = _sizes(data, 1, 3), _sizes(data, 1, 3)
    return {"feature_dim": d, "value_dim": dv, "q_t": _array(data, kind, (d,)), "k_t": _array(data, kind, (d,)),
            "v_t": _array(data, kind, (dv,))}


def _smoother_forward(bandwidth, x_train, y_train, x_query, dim):
    return lk.KernelSmoother(dim, bandwidth=bandwidth)(x_train, y_train, x_query)


def _regressor_forward(head_dim, seed, dtype, x_context, y_context, x_query):
    return lk.AttentionRegressor(head_dim, seed=seed, dtype=dtype)(x_context, y_context, x_query)


def _train(steps, lr, seed, loss_scale):
    model = torch.nn.Linear(1, 1, dtype=torch.float64)

    def loss_fn(model, generator):
        x = torch.randn(4, 1, generator=generator, dtype=torch.float64)
        return (model(x) - 2 * x).pow(2).mean() * loss_scale

    return lk.train(model, loss_fn, steps=steps, lr=lr, seed=seed, progress=False)


# ------------------------------------------------- the layer chapter: heads and positions

def _multi_head_good(data, kind):
    b, m, n, d_model = _sizes(data, 1, 2), _sizes(data, 0, 4), _sizes(data, 0, 4), _sizes(data, 1, 3)
    heads, d_head, d_v, d_out = _sizes(data, 1, 3), _sizes(data, 1, 2), _sizes(data, 1, 2), _sizes(data, 1, 3)
    return {"x_query": _array(data, kind, (b, m, d_model), 2), "x_context": _array(data, kind, (b, n, d_model), 2),
            "w_query": _array(data, kind, (heads, d_head, d_model)), "w_key": _array(data, kind, (heads, d_head, d_model)),
            "w_value": _array(data, kind, (heads, d_v, d_model)), "w_out": _array(data, kind, (heads, d_out, d_v)),
            "mask": None, "causal": data.draw(st.booleans()), "return_weights": data.draw(st.booleans())}


def _multi_head_shape(kw):
    out = _rows(kw, "x_query")[:-1] + _rows(kw, "w_out")[1:2]
    weights = _rows(kw, "x_query")[:-2] + _rows(kw, "w_query")[:1] + _rows(kw, "x_query")[-2:-1] \
        + _rows(kw, "x_context")[-2:-1]
    return [out] + ([weights] if kw["return_weights"] else [])


def _tokens(data, kind, rows, half_d, batch=()):
    """Token contents of even size 2 * half_d (rotary turns coordinates in pairs)."""
    return _array(data, kind, (*batch, rows, 2 * half_d), 2)


def _positioned(data, kind):
    """Queries and keys with their positions in the last column (with_positions)."""
    m, n, half_d = _sizes(data, 0, 4), _sizes(data, 0, 4), _sizes(data, 1, 2)
    q = lk.with_positions(_tokens(data, kind, m, half_d), _array(data, kind, (m,), 5))
    k = lk.with_positions(_tokens(data, kind, n, half_d), _array(data, kind, (n,), 5))
    return {"q": q, "k": k}


def _pair_shape(kw):
    return _rows(kw, "q")[:-1] + _rows(kw, "k")[-2:-1]


SPECS = [
    *(_kernel_spec(name) for name in ("gaussian", "epanechnikov", "triangular", "boxcar")),
    Spec("nadaraya_watson", lambda **kw: lk.nadaraya_watson(**kw),
         lambda data, kind: {**_regression(data, kind), "bandwidth": _width(data),
                             "kernel": data.draw(st.sampled_from(["gaussian", "epanechnikov", "triangular", "boxcar"])),
                             "return_weights": data.draw(st.booleans())},
         {"x_train": "array", "y_train": "array", "x_query": "array", "bandwidth": "width", "return_weights": "flag"},
         shape=lambda kw: [_nw_shape(kw)] + ([(_rows(kw, "x_query")[0], _rows(kw, "x_train")[0])]
                                             if kw["return_weights"] else [])),
    Spec("leave_one_out_predictions", lambda **kw: lk.leave_one_out_predictions(**kw),
         lambda data, kind: (lambda r: {"x": r["x_train"], "y": r["y_train"], "bandwidth": _width(data)})(
             _regression(data, kind, queries=False, min_n=2)),
         {"x": "array", "y": "array", "bandwidth": "width"}),
    Spec("loo_cv_bandwidth", lambda **kw: lk.loo_cv_bandwidth(**kw)[2],
         lambda data, kind: (lambda r: {"x": r["x_train"], "y": r["y_train"], "bandwidths": [0.1, 1.0]})(
             _regression(data, kind, queries=False, min_n=2)),
         {"x": "array", "y": "array", "bandwidths": "array"}),
    Spec("silverman_bandwidth", lambda **kw: lk.silverman_bandwidth(**kw),
         lambda data, kind: {"x": _array(data, kind, (5,)) * 0.1 + (torch.arange(5) if kind.startswith("torch")
                                                                   else np.arange(5))},
         {"x": "array"}),
    Spec("exp_dot_log_kernel", lambda **kw: lk.exp_dot_log_kernel(**kw),
         lambda data, kind: {k: v for k, v in _attention_inputs(data, kind).items() if k != "v"},
         {"q": "array", "k": "array"}, shape=lambda kw: _rows(kw, "q")[:-1] + _rows(kw, "k")[-2:-1],
         log_values=True),
    Spec("gaussian_log_kernel", lambda **kw: lk.gaussian_log_kernel(**kw),
         lambda data, kind: {**{k: v for k, v in _attention_inputs(data, kind).items() if k != "v"},
                             "bandwidth": _width(data)},
         {"q": "array", "k": "array", "bandwidth": "width"},
         shape=lambda kw: _rows(kw, "q")[:-1] + _rows(kw, "k")[-2:-1], log_values=True),
    Spec("softmax_attention", lambda **kw: lk.softmax_attention(**kw),
         lambda data, kind: {**_attention_inputs(data, kind), "scale": _width(data),
                             "causal": data.draw(st.booleans())},
         {"q": "array", "k": "array", "v": "array", "scale": "width", "causal": "flag"}, shape=_attention_shape,
         optional_widths={"scale"}),
    Spec("gaussian_attention", lambda **kw: lk.gaussian_attention(**kw),
         lambda data, kind: {**_attention_inputs(data, kind), "bandwidth": _width(data),
                             "causal": data.draw(st.booleans()), "return_weights": data.draw(st.booleans())},
         {"q": "array", "k": "array", "v": "array", "bandwidth": "width", "causal": "flag",
          "return_weights": "flag"},
         shape=lambda kw: [_attention_shape(kw)] + ([_rows(kw, "q")[:-1] + _rows(kw, "k")[-2:-1]]
                                                   if kw["return_weights"] else [])),
    Spec("kernel_smoother", lambda **kw: lk.kernel_smoother(kernel="exp_dot", **kw),
         lambda data, kind: {**_attention_inputs(data, kind), "scale": _width(data),
                             "causal": data.draw(st.booleans()), "mask": None},
         {"q": "array", "k": "array", "v": "array", "scale": "width", "causal": "flag", "mask": "array"},
         shape=_attention_shape, optional_arrays={"mask"}, optional_widths={"scale"}),
    Spec("metric_kernel_smoother", lambda **kw: lk.metric_kernel_smoother(**kw),
         lambda data, kind: (lambda r: {**r, "metric": _array(data, kind, (2, np.shape(r["x_train"])[1:] and
                                                                           np.shape(r["x_train"])[1] or 1), 3)})(
             _regression(data, kind)),
         {"x_train": "array", "y_train": "array", "x_query": "array", "metric": "array"}, shape=_nw_shape),
    Spec("KernelSmoother", _smoother_forward,
         lambda data, kind: (lambda r: {**r, "bandwidth": _width(data, 0.1, 2),
                                        "dim": (np.shape(r["x_train"]) + (1,))[1]})(
             _regression(data, kind, outputs_2d=False)),
         {"x_train": "array", "y_train": "array", "x_query": "array", "bandwidth": "width", "dim": "int"}, extreme_may_refuse=True),
    Spec("fit_kernel_smoother", lambda **kw: lk.fit_kernel_smoother(**kw, steps=3).losses,
         lambda data, kind: (lambda r: {"x": r["x_train"], "y": r["y_train"], "bandwidth": _width(data, 0.1, 2),
                                        "metric": data.draw(st.booleans())})(
             _regression(data, kind, queries=False, outputs_2d=False, min_n=2)),
         {"x": "array", "y": "array", "bandwidth": "width", "metric": "flag"}, optional_widths={"bandwidth"},
         same_kind=False, extreme_may_refuse=True),
    Spec("train", _train, lambda data, kind: {"steps": _sizes(data, 1, 3), "lr": _width(data, 0.01, 0.1),
                                              "seed": data.draw(st.integers(0, 5)), "loss_scale": 1.0},
         {"steps": "int", "lr": "width", "seed": "seed"}, extreme_may_refuse=True),
    Spec("sample_regression_tasks", lambda **kw: lk.sample_regression_tasks(**kw)[1],
         lambda data, kind: {"num_tasks": _sizes(data), "context_size": _sizes(data), "num_queries": _sizes(data),
                             "lengthscale": _width(data, 0.05, 2), "seed": data.draw(st.integers(0, 5)),
                             "dtype": torch.float64},
         {"num_tasks": "int", "context_size": "int", "num_queries": "int", "lengthscale": "width", "seed": "seed",
          "dtype": "dtype"}, shape=lambda kw: (kw["num_tasks"], kw["context_size"])),
    Spec("in_context_features", lambda **kw: lk.in_context_features(**kw),
         lambda data, kind: {"x": _array(data, kind, (_sizes(data, 0, 4),))}, {"x": "array"},
         shape=lambda kw: _rows(kw, "x") + (3,), nan_passthrough=True),
    Spec("in_context_attention", lambda **kw: lk.in_context_attention(**kw),
         lambda data, kind: {**_in_context_inputs(data, kind), "w_query": _array(data, kind, (2, 3)),
                             "w_key": _array(data, kind, (2, 3)), "w_value": _array(data, kind, (4,)),
                             "temperature": _width(data)},
         {"x_context": "array", "y_context": "array", "x_query": "array", "w_query": "array", "w_key": "array",
          "w_value": "array", "temperature": "width"}, shape=lambda kw: _rows(kw, "x_query")),
    Spec("AttentionRegressor", _regressor_forward,
         lambda data, kind: {**_in_context_inputs(data, kind), "head_dim": _sizes(data), "seed": 0,
                             "dtype": torch.float64},
         {"x_context": "array", "y_context": "array", "x_query": "array", "head_dim": "int", "seed": "seed",
          "dtype": "dtype"}, shape=lambda kw: _rows(kw, "x_query")),
    _feature_spec("elu_plus_one", lambda d: d),
    _feature_spec("relu_features", lambda d: d),
    _feature_spec("taylor_features", lambda d: 1 + d + d * d),
    Spec("sample_projection", lambda **kw: lk.sample_projection(**kw),
         lambda data, kind: {"num_features": _sizes(data, 1, 6), "dim": _sizes(data, 1, 3),
                             "seed": data.draw(st.sampled_from([0, 3])), "dtype": torch.float64},
         {"num_features": "int", "dim": "int", "seed": "seed", "dtype": "dtype"},
         shape=lambda kw: (kw["num_features"], kw["dim"])),
    Spec("random_fourier_features",
         lambda **kw: lk.random_fourier_features(**kw),
         lambda data, kind: {**_random_feature_spec("positive_random_features", 1).good(data, kind),
                             "bandwidth": _width(data)},
         {"x": "array", "projection": "array", "bandwidth": "width"},
         shape=lambda kw: _rows(kw, "x")[:-1] + (2 * np.shape(kw["projection"])[0],), nan_passthrough=True,
         extreme_may_refuse=True),
    _random_feature_spec("positive_random_features", 1),
    _random_feature_spec("trigonometric_random_features", 2),
    _random_feature_spec("hyperbolic_random_features", 2),
    Spec("linear_attention", lambda **kw: lk.linear_attention(**kw),
         lambda data, kind: {**_attention_inputs(data, kind, same_length=True),
                             "causal": data.draw(st.booleans()),
                             "method": data.draw(st.sampled_from(["quadratic", "prefix_sum", "recurrent", "chunked"])),
                             "chunk_size": _sizes(data, 1, 3)},
         {"q": "array", "k": "array", "v": "array", "causal": "flag", "chunk_size": "int"},
         shape=_attention_shape, nan_passthrough=True),
    Spec("causal_linear_attention_backward", lambda **kw: lk.causal_linear_attention_backward(**kw),
         _backward_inputs, {"phi_q": "array", "phi_k": "array", "v": "array", "grad_out": "array",
                            "chunk_size": "int"},
         shape=_backward_shape, nan_passthrough=True),
    Spec("LinearAttentionState", _state_step, _state_good,
         {"feature_dim": "int", "value_dim": "int", "q_t": "array", "k_t": "array", "v_t": "array"},
         shape=lambda kw: (kw["value_dim"],)),
    Spec("favor_attention", lambda **kw: lk.favor_attention(**kw),
         lambda data, kind: (lambda a: {**a, "projection": lk.sample_projection(4, _rows(a, "q")[-1], seed=0).numpy(),
                                        "causal": data.draw(st.booleans()), "scale": _width(data, 0.1, 2)})(
             _attention_inputs(data, kind, same_length=True)),
         {"q": "array", "k": "array", "v": "array", "projection": "array", "causal": "flag", "scale": "width"},
         shape=_attention_shape, nan_passthrough=True, optional_widths={"scale"}, extreme_may_refuse=True),
    Spec("rff_nadaraya_watson", lambda **kw: lk.rff_nadaraya_watson(**kw, seed=0, kind="orthogonal"),
         lambda data, kind: {**_regression(data, kind), "bandwidth": _width(data, 0.5, 5),
                             "num_features": _sizes(data, 1, 8)},
         {"x_train": "array", "y_train": "array", "x_query": "array", "bandwidth": "width", "num_features": "int"}, extreme_may_refuse=True),
    *(_mse_spec(name) for name in ("positive_features_mse", "trigonometric_features_mse", "hyperbolic_features_mse",
                                   "fourier_features_mse")),
    Spec("multi_head_attention", lambda **kw: lk.multi_head_attention(**kw), _multi_head_good,
         {"x_query": "array", "x_context": "array", "w_query": "array", "w_key": "array", "w_value": "array",
          "w_out": "array", "mask": "array", "causal": "flag", "return_weights": "flag"},
         shape=_multi_head_shape, optional_arrays={"mask"}),
    Spec("rotary_embedding", lambda **kw: lk.rotary_embedding(**kw),
         lambda data, kind: (lambda n: {"x": _tokens(data, kind, n, _sizes(data, 1, 3), (_sizes(data, 1, 2),)),
                                        "positions": _array(data, kind, (n,), 5), "base": _width(data, 1.5, 1e4)})(
             _sizes(data, 0, 4)),
         {"x": "array", "positions": "array", "base": "width"}, shape=lambda kw: _rows(kw, "x"),
         extreme_may_refuse=True),
    Spec("with_positions", lambda **kw: lk.with_positions(**kw),
         lambda data, kind: (lambda n: {"x": _array(data, kind, (_sizes(data, 1, 2), n, _sizes(data, 1, 3))),
                                        "positions": _array(data, kind, (n,), 5)})(
             _sizes(data, 0, 4)),
         {"x": "array", "positions": "array"}, shape=lambda kw: _rows(kw, "x")[:-1] + (_rows(kw, "x")[-1] + 1,),
         optional_arrays={"positions"}),
    Spec("rotary_log_kernel", lambda **kw: lk.rotary_log_kernel(**kw),
         lambda data, kind: {**_positioned(data, kind), "scale": _width(data), "base": _width(data, 1.5, 1e4)},
         {"q": "array", "k": "array", "scale": "width", "base": "width"}, shape=_pair_shape, log_values=True,
         optional_widths={"scale"}, extreme_may_refuse=True),
    Spec("alibi_log_kernel", lambda **kw: lk.alibi_log_kernel(**kw),
         lambda data, kind: {**_positioned(data, kind), "scale": _width(data),
                             "slope": data.draw(st.sampled_from([0.0, 0.5, 2.0, 1e8]))},
         {"q": "array", "k": "array", "scale": "width"}, shape=_pair_shape, log_values=True,
         optional_widths={"scale"}),
    Spec("alibi_slopes", lambda **kw: lk.alibi_slopes(**kw), lambda data, kind: {"num_heads": _sizes(data, 1, 16)},
         {"num_heads": "int"}, shape=lambda kw: (kw["num_heads"],)),
]


def test_every_public_function_has_a_specification():
    covered = {spec.name for spec in SPECS}
    not_here = {"get_kernel", "LOOResult", "KernelFit", "RegressionTasks",  # a lookup and result records
                "frame_slider", "glue", "use_book_style", "OKABE_ITO"}  # notebook support, tested on its own
    assert set(lk.__all__) - not_here <= covered, sorted(set(lk.__all__) - not_here - covered)


@pytest.mark.parametrize("spec", SPECS, ids=[spec.name for spec in SPECS])
@ROBUST
@given(data=st.data())
def test_finite_answer_of_the_documented_shape_or_an_error_naming_the_argument(spec, data):
    kind = data.draw(st.sampled_from(list(DTYPES)))
    kwargs = spec.good(data, kind)
    mutate = data.draw(st.sampled_from([None, *spec.args]))
    label = None
    if mutate is not None:
        if mutate in spec.optional_arrays and kwargs[mutate] is None:
            kwargs[mutate] = np.ones(1, dtype=np.float64)  # a non-boolean mask
            label = "wrong_dtype"
        else:
            kwargs[mutate], label = _bad(data, spec.args[mutate], kwargs[mutate])
    extreme = [name for name, role in spec.args.items()
               if role == "width" and name != mutate and any(kwargs[name] is w for w in EXTREME_WIDTHS)]
    try:
        result = spec.call(**kwargs)
    except (ValueError, TypeError) as error:
        if spec.extreme_may_refuse and any(f"`{name}`" in str(error) for name in extreme):
            return
        assert mutate is not None, f"{spec.name} refused good input {kwargs}: {error}"
        assert f"`{mutate}`" in str(error), f"{spec.name}: bad `{mutate}` ({label}) gave an error not naming it: {error}"
        return
    acceptable = {"extra_axis", "bool_scalar"} | (NAN_LABELS if spec.nan_passthrough else set())
    if spec.args.get(mutate) == "array" and label == "none" and mutate in spec.optional_arrays:
        acceptable.add("none")
    if mutate in spec.optional_widths and kwargs[mutate] is None:
        acceptable.add("width")
    assert mutate is None or label in acceptable, f"{spec.name} accepted a bad `{mutate}` ({label})"
    _check_result(spec, kwargs, result, kind, label)


@pytest.mark.parametrize("function", [lk.linear_attention, lk.favor_attention])
@pytest.mark.parametrize("causal", [False, True])
def test_a_nan_query_row_leaves_the_other_rows_finite(function, causal):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(7, 3, generator=g, dtype=torch.float64) for _ in range(3))
    q[4, 1] = math.nan
    extra = {"projection": lk.sample_projection(8, 3, seed=0)} if function is lk.favor_attention else {}
    out = function(q, k, v, causal=causal, chunk_size=3, **extra)
    rows = torch.isfinite(out).all(-1)
    assert not rows[4] and bool(rows[torch.arange(7) != 4].all())
