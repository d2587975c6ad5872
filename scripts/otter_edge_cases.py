"""Hidden edge cases for the graded exercises, one entry per checker (used by make_otter.py).

Each entry is Python source that make_otter.py writes into a hidden otter test, so the
cases live only in the autograder, never in a student's folder. The source defines

- ``reference(**inputs, **extra)``: the expected answer, from lenakernel's public
  functions (they run outside the student's function, so they are not blocked);
- ``cases``: ``{name: inputs}`` or ``{name: (inputs, note)}`` or ``{name: (inputs, note,
  extra)}``, the inputs in the order of the student's parameters;
- optionally ``call(student, **inputs, **extra)``: how the student's function becomes
  the compared answer (for exercises whose answer is used, not compared, directly).

``np`` (NumPy), ``lk`` (lenakernel) and ``Between`` (an answer anywhere between two, for
an open ``eps``) are in scope. A checker missing here gets a second run on other seeds
in place of edge cases.
"""

EDGE_CASES = {
    "check_nadaraya_watson": dict(exercise="Gaussian Nadaraya-Watson, edge cases", source='''
def reference(x_train, y_train, x_query, bandwidth):
    return lk.nadaraya_watson(x_train, y_train, x_query, kernel="gaussian", bandwidth=bandwidth)

grid = np.linspace(0.0, 1.0, 7)
cases = {
    "one training point": dict(x_train=np.array([0.5]), y_train=np.array([2.0]),
                               x_query=np.array([-3.0, 0.5, 4.0]), bandwidth=0.2),
    "a very wide bandwidth (the mean of y)": dict(x_train=grid, y_train=np.sin(5 * grid),
                                                  x_query=np.array([0.0, 0.5, 1.0]), bandwidth=1e4),
    "queries on the training points, bandwidth 1e-3": (
        dict(x_train=np.array([0.0, 1.0, 2.0, 3.0]), y_train=np.array([1.0, -1.0, 2.0, 5.0]),
             x_query=np.array([0.0, 1.0, 2.0, 3.0, 1.5004]), bandwidth=1e-3),
        "every other kernel value underflows: work in the log domain"),
    "repeated training inputs": dict(x_train=np.array([1.0, 1.0, 2.0]), y_train=np.array([0.0, 2.0, 5.0]),
                                     x_query=np.array([1.0, 1.9]), bandwidth=0.3),
}
'''),
    "check_loo_error": dict(exercise="Leave-one-out error, edge cases", source='''
def reference(x, y, bandwidth):
    predictions = lk.leave_one_out_predictions(x, y, kernel="gaussian", bandwidth=bandwidth)
    return np.mean((predictions - y) ** 2)

grid = np.linspace(0.0, 1.0, 9)
cases = {
    "two points (each predicted by the other)": dict(x=np.array([0.0, 1.0]), y=np.array([1.0, 3.0]),
                                                     bandwidth=0.5),
    "points far apart for the bandwidth": (
        dict(x=np.array([0.0, 10.0, 20.0, 30.0]), y=np.array([1.0, 2.0, 3.0, 4.0]), bandwidth=0.1),
        "every kernel value between different points underflows: subtract each row's maximum "
        "log-kernel value (the point itself left out) before exp"),
    "a very wide bandwidth": dict(x=grid, y=grid**2, bandwidth=50.0),
}
'''),
    "check_single_query_attention": dict(exercise="Single-query attention, edge cases", source='''
def reference(q, k, v):
    return lk.softmax_attention(q[None, :], k, v)[0]

rng = np.random.default_rng(31)
cases = {
    "all scores near -600": (
        dict(q=np.array([30.0, 0.0]), k=np.array([[-30.0, 0.0], [-29.0, 0.0], [-31.0, 0.0]]),
             v=np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])),
        "every exp(score) underflows to 0, so exp-then-divide gives 0/0: subtract the largest score"),
    "identical keys (a plain average)": dict(q=rng.standard_normal(3), k=np.ones((4, 3)),
                                             v=np.arange(8.0).reshape(4, 2)),
    "d = 64": dict(q=rng.standard_normal(64), k=rng.standard_normal((10, 64)), v=rng.standard_normal((10, 3))),
}
'''),
    "check_local_attention": dict(exercise="Local (sliding-window) attention, edge cases", source='''
def reference(q, k, v, window):
    i, j = np.indices((q.shape[0], k.shape[0]))
    return lk.softmax_attention(q, k, v, mask=np.abs(i - j) <= window)

rng = np.random.default_rng(32)
cases = {
    "40 tokens, window 2": dict(q=rng.standard_normal((40, 3)), k=rng.standard_normal((40, 3)),
                                v=rng.standard_normal((40, 2)), window=2),
    "window n - 1 (every key)": dict(q=rng.standard_normal((6, 2)), k=rng.standard_normal((6, 2)),
                                     v=rng.standard_normal((6, 1)), window=5),
    "large scores, window 1": dict(q=30 * rng.standard_normal((8, 2)), k=30 * rng.standard_normal((8, 2)),
                                   v=rng.standard_normal((8, 2)), window=1),
}
'''),
    "check_qk_norm_attention": dict(exercise="QK-norm attention, edge cases", source='''
def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)

def reference(q, k, v, temperature):
    return lk.gaussian_attention(unit(q), unit(k), v, bandwidth=np.sqrt(temperature))

rng = np.random.default_rng(33)
cases = {
    "very sharp: temperature 0.001": (
        dict(q=rng.standard_normal((3, 3)), k=rng.standard_normal((6, 3)), v=rng.standard_normal((6, 2)),
             temperature=1e-3),
        "scores up to 1000: exp overflows unless each row's largest score is subtracted first"),
    "very flat: temperature 1000": dict(q=rng.standard_normal((2, 4)), k=rng.standard_normal((5, 4)),
                                        v=rng.standard_normal((5, 3)), temperature=1e3),
    "queries and keys of very different lengths": dict(
        q=1e4 * rng.standard_normal((4, 2)), k=1e-4 * rng.standard_normal((5, 2)),
        v=rng.standard_normal((5, 1)), temperature=0.5),
}
'''),
    "check_metric_smoother": dict(exercise="The learned-metric smoother, edge cases", source='''
def reference(x_train, y_train, x_query, metric):
    return lk.metric_kernel_smoother(x_train, y_train, x_query, metric=metric)

rng = np.random.default_rng(34)
x = rng.standard_normal((9, 2))
cases = {
    "one training point": dict(x_train=np.array([[0.5, -1.0]]), y_train=np.array([3.0]),
                               x_query=rng.standard_normal((3, 2)), metric=np.eye(2)),
    "the zero metric (the plain mean)": dict(x_train=x, y_train=rng.standard_normal(9),
                                             x_query=rng.standard_normal((2, 2)), metric=np.zeros((1, 2))),
    "sharp along one direction only": (
        dict(x_train=x, y_train=x[:, 0], x_query=rng.standard_normal((4, 2)),
             metric=np.diag([500.0, 0.1])),
        "kernel values underflow along the sharp direction: work in the log domain"),
}
'''),
    "check_attention_form": dict(exercise="The attention form of the smoother, edge cases", source='''
def call(student, x_query, x_train, metric, y_train):
    result = student(x_query, x_train, metric)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise ValueError("your function must return a pair (q, k)")
    q, k = (np.asarray(a, dtype=np.float64) for a in result)
    return lk.softmax_attention(q, k, y_train[:, None], scale=1.0)[:, 0]

def reference(x_query, x_train, metric, y_train):
    return lk.metric_kernel_smoother(x_train, y_train, x_query, metric=metric)

rng = np.random.default_rng(35)
x4 = rng.standard_normal((7, 4))
note = "your (q, k) go into softmax attention at scale 1 with y_train as the values"
cases = {
    "one training point": (dict(x_query=rng.standard_normal((2, 2)), x_train=np.array([[1.0, 2.0]]),
                                metric=np.eye(2)), note, dict(y_train=np.array([-1.5]))),
    "a rectangular metric (r = 2, p = 4)": (
        dict(x_query=rng.standard_normal((3, 4)), x_train=x4, metric=rng.standard_normal((2, 4))),
        note, dict(y_train=rng.standard_normal(7))),
    "a sharp metric (A = [[300]])": (
        dict(x_query=np.array([[0.1], [0.52]]), x_train=np.array([[0.0], [0.5], [1.0]]),
             metric=np.array([[300.0]])), note, dict(y_train=np.array([1.0, 2.0, 3.0]))),
}
'''),
    "check_in_context_attention": dict(exercise="The in-context regression head, edge cases", source='''
def reference(x_context, y_context, x_query, w_query, w_key, w_value, temperature):
    return lk.in_context_attention(x_context, y_context, x_query, w_query=w_query, w_key=w_key,
                                   w_value=w_value, temperature=temperature)

rng = np.random.default_rng(36)

def head(shape, n, m, d_k, temperature):
    return dict(x_context=rng.uniform(-1, 1, shape + (n,)), y_context=rng.normal(size=shape + (n,)),
                x_query=rng.uniform(-1, 1, shape + (m,)), w_query=rng.normal(size=(d_k, 3)),
                w_key=rng.normal(size=(d_k, 3)), w_value=rng.normal(size=4), temperature=temperature)

cases = {
    "one context point": head((), 1, 4, 2, 1.0),
    "two leading axes (2, 3, n)": (head((2, 3), 5, 2, 3, 0.7), "use the last axis only"),
    "d_k = 1": head((), 6, 3, 1, 0.3),
}
'''),
    "check_gaussian_projections": dict(exercise="Your Gaussian head, edge cases", source='''
def call(student, bandwidth, x_context, y_context, x_query):
    result = student(bandwidth)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise ValueError("your function must return a pair (w_query, w_key)")
    w_query, w_key = (np.asarray(a, dtype=np.float64) for a in result)
    return lk.in_context_attention(x_context, y_context, x_query, w_query=w_query, w_key=w_key,
                                   w_value=np.array([0.0, 0.0, 0.0, 1.0]), temperature=1.0)

def reference(bandwidth, x_context, y_context, x_query):
    return lk.nadaraya_watson(x_context, y_context, x_query, bandwidth=bandwidth)

rng = np.random.default_rng(37)

def data(low, high):
    return dict(x_context=rng.uniform(low, high, 10), y_context=rng.normal(size=10),
                x_query=rng.uniform(low, high, 4))

note = "the head runs with your projections, w_value = [0, 0, 0, 1] and temperature 1"
cases = {
    "bandwidth 0.05 (sharp)": (dict(bandwidth=0.05), note, data(-1, 1)),
    "bandwidth 5 (wide)": (dict(bandwidth=5.0), note, data(-1, 1)),
    "a context in [-3, 3]": (dict(bandwidth=0.5), note, data(-3, 3)),
}
'''),
    "check_multi_head_attention": dict(exercise="Multi-head attention, edge cases", source='''
def reference(x, w_query, w_key, w_value, w_out):
    return lk.multi_head_attention(x, x, w_query=w_query, w_key=w_key, w_value=w_value, w_out=w_out)

rng = np.random.default_rng(46)

def layer(n, d_model, heads, d_head, d_v, d_out):
    return dict(x=rng.standard_normal((n, d_model)), w_query=rng.standard_normal((heads, d_head, d_model)),
                w_key=rng.standard_normal((heads, d_head, d_model)),
                w_value=rng.standard_normal((heads, d_v, d_model)),
                w_out=rng.standard_normal((heads, d_out, d_v)))

cases = {
    "eight heads of width 1": layer(6, 4, 8, 1, 1, 3),
    "one output feature (d_out = 1)": layer(5, 3, 2, 2, 4, 1),
    "identical tokens (uniform weights)": dict(layer(1, 3, 2, 2, 2, 2), x=np.ones((4, 3))),
}
'''),
    "check_linear_attention": dict(exercise="Linear attention, edge cases", source='''
def reference(q, k, v):
    return Between(lk.linear_attention(q, k, v, eps=0.0), lk.linear_attention(q, k, v, eps=1e-6))

rng = np.random.default_rng(38)
cases = {
    "one query, one key, d_v = 1": dict(q=rng.standard_normal((1, 3)), k=rng.standard_normal((1, 3)),
                                        v=rng.standard_normal((1, 1))),
    "m != n with a batch axis of 3": dict(q=rng.standard_normal((3, 2, 4)), k=rng.standard_normal((3, 9, 4)),
                                          v=rng.standard_normal((3, 9, 2))),
    "large inputs (scale 20)": dict(q=20 * rng.standard_normal((5, 3)), k=20 * rng.standard_normal((7, 3)),
                                    v=rng.standard_normal((7, 2))),
}
'''),
    "check_taylor_features": dict(exercise="The Taylor feature map, edge cases", source='''
def call(student, x, y):
    phi_x, phi_y = np.asarray(student(x)), np.asarray(student(y))
    return np.sum(phi_x * phi_y, axis=-1)

def reference(x, y):
    s = np.sum(x * y, axis=-1)
    return 1.0 + s + 0.5 * s * s

rng = np.random.default_rng(39)
note = "your map is called on x and on y; row i of the two is compared"
cases = {
    "d = 10": (dict(x=rng.standard_normal((4, 10))), note, dict(y=rng.standard_normal((4, 10)))),
    "x = 0 (only the constant feature is left)": (dict(x=np.zeros((2, 3))), note,
                                                   dict(y=rng.standard_normal((2, 3)))),
    "one point, d = 2, large values": (dict(x=np.array([[30.0, -20.0]])), note,
                                        dict(y=np.array([[10.0, 5.0]]))),
}
'''),
    "check_random_fourier_features": dict(exercise="Random Fourier features, edge cases", source='''
def reference(x, projection, bandwidth):
    return lk.random_fourier_features(x, projection, bandwidth=bandwidth)

rng = np.random.default_rng(40)
cases = {
    "one direction (m = 1)": dict(x=rng.standard_normal((5, 2)), projection=rng.standard_normal((1, 2)),
                                  bandwidth=1.0),
    "d = 1": dict(x=rng.standard_normal((6, 1)), projection=rng.standard_normal((4, 1)), bandwidth=0.7),
    "a tiny bandwidth (large angles)": dict(x=rng.standard_normal((3, 3)), projection=rng.standard_normal((5, 3)),
                                            bandwidth=1e-3),
}
'''),
    "check_hyperbolic_random_features": dict(exercise="Hyperbolic random features, edge cases", source='''
def reference(x, projection):
    return lk.hyperbolic_random_features(x, projection)

rng = np.random.default_rng(41)
cases = {
    "one direction (m = 1)": dict(x=0.5 * rng.standard_normal((4, 2)), projection=rng.standard_normal((1, 2))),
    "x = 0 (every feature is 1 / sqrt(2m))": dict(x=np.zeros((2, 3)), projection=rng.standard_normal((4, 3))),
    "points of norm about 3": dict(x=3 * rng.standard_normal((3, 2)) / np.sqrt(2),
                                   projection=rng.standard_normal((6, 2))),
}
'''),
    "check_causal_linear_attention": dict(exercise="Causal linear attention, edge cases", source='''
def reference(q, k, v):
    return Between(lk.linear_attention(q, k, v, causal=True, method="quadratic", eps=0.0),
                   lk.linear_attention(q, k, v, causal=True, method="quadratic", eps=1e-6))

rng = np.random.default_rng(42)
cases = {
    "two tokens": dict(q=rng.standard_normal((2, 3)), k=rng.standard_normal((2, 3)), v=rng.standard_normal((2, 2))),
    "200 tokens, d_v = 1": dict(q=rng.standard_normal((200, 4)), k=rng.standard_normal((200, 4)),
                                v=rng.standard_normal((200, 1))),
    "large inputs (scale 10)": dict(q=10 * rng.standard_normal((9, 2)), k=10 * rng.standard_normal((9, 2)),
                                    v=rng.standard_normal((9, 3))),
}
'''),
    "check_chunked_linear_attention": dict(exercise="Chunked causal linear attention, edge cases", source='''
def reference(q, k, v, chunk_size):
    return Between(lk.linear_attention(q, k, v, causal=True, method="quadratic", eps=0.0),
                   lk.linear_attention(q, k, v, causal=True, method="quadratic", eps=1e-6))

rng = np.random.default_rng(43)

def sequence(n, chunk_size):
    return dict(q=rng.standard_normal((n, 3)), k=rng.standard_normal((n, 3)), v=rng.standard_normal((n, 2)),
                chunk_size=chunk_size)

cases = {
    "chunks of 1": sequence(7, 1),
    "one chunk holding the whole sequence": sequence(9, 9),
    "64 tokens, chunks of 8": sequence(64, 8),
}
'''),
    "check_is_psd": dict(exercise="Testing positive semi-definiteness, edge cases", source='''
def reference(gram):
    gram = np.asarray(gram, dtype=np.float64)
    scale = max(float(np.abs(gram).max()), 1e-300)
    if not np.allclose(gram, gram.T, rtol=0.0, atol=1e-10 * scale):
        return False
    eigenvalues = np.linalg.eigvalsh(gram)
    return bool(eigenvalues.min() >= -1e-10 * max(float(np.abs(eigenvalues).max()), 0.0))

rng = np.random.default_rng(44)
points = rng.standard_normal((8, 2))
gaussian = np.exp(-0.5 * ((points[:, None] - points[None]) ** 2).sum(-1))
column = rng.standard_normal((5, 1))
cases = {
    "1 x 1, zero": dict(gram=np.zeros((1, 1))),
    "1 x 1, negative": dict(gram=np.array([[-0.5]])),
    "a Gaussian-kernel Gram matrix (positive definite)": dict(gram=gaussian),
    "upper triangular with positive eigenvalues (not symmetric)": dict(gram=np.array([[1.0, 1.0], [0.0, 1.0]])),
    "1e8 times a rank-one matrix": (dict(gram=1e8 * column @ column.T),
                                    "rounding is relative to the largest eigenvalue"),
}
'''),
    "check_min_quadratic_form": dict(exercise="The smallest quadratic form, edge cases", source='''
def reference(matrix):
    matrix = np.asarray(matrix, dtype=np.float64)
    return float(np.linalg.eigvalsh((matrix + matrix.T) / 2)[0])

rng = np.random.default_rng(45)
skew = rng.standard_normal((3, 3))
cases = {
    "1 x 1": dict(matrix=np.array([[-2.5]])),
    "skew-symmetric (x^T A x = 0 for every x)": dict(matrix=skew - skew.T),
    "upper triangular 5 x 5": dict(matrix=np.triu(rng.standard_normal((5, 5)))),
}
'''),
}
