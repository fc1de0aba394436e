"""Central finite differences on the keyframe manifold, for factor Jacobian tests."""
import numpy as np

from vio.lie import so3_exp
from vio.state import KeyframeState, retract

STEP = 1e-6


def random_state(rng) -> KeyframeState:
    return KeyframeState(so3_exp(rng.normal(size=3)), rng.normal(size=3), rng.normal(size=3),
                         rng.normal(size=3) * 0.01, rng.normal(size=3) * 0.1)


def numeric_state_jacobian(fun, state):
    """d fun(state [+] dx) / d dx at dx = 0 over the 15-dim error state."""
    J = np.empty((len(fun(state)), 15))
    for k in range(15):
        d = np.zeros(15)
        d[k] = STEP
        J[:, k] = (fun(retract(state, d)) - fun(retract(state, -d))) / (2 * STEP)
    return J


def numeric_jacobian(fun, x):
    """d fun(x) / d x for a vector x (step relative to |x_k|)."""
    x = np.asarray(x, float)
    J = np.empty((len(fun(x)), len(x)))
    for k in range(len(x)):
        d = np.zeros(len(x))
        d[k] = STEP * max(1.0, abs(x[k]))
        J[:, k] = (fun(x + d) - fun(x - d)) / (2 * d[k])
    return J


def assert_jacobian(analytic, numeric):
    err = np.linalg.norm(analytic - numeric) / max(np.linalg.norm(numeric), 1e-12)
    assert err < 1e-6, err
