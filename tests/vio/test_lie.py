"""SO(3)/SE(3) maps and quaternions: numba kernels (through vio.lie) against slow,
obviously correct references (matrix exponential, quadrature of the Jacobian integral)
and SciPy's Rotation; identities near zero angle and near pi."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import expm
from scipy.spatial.transform import Rotation

from vio import _kernels as k
from vio.lie import (quat_wxyz_to_rot, quat_wxyz_to_xyzw, quat_xyzw_to_rot, quat_xyzw_to_wxyz, rot_to_quat_wxyz,
                     rot_to_quat_xyzw, se3_exp, se3_log, skew, so3_exp, so3_log, so3_right_jacobian,
                     so3_right_jacobian_inv)

RNG = np.random.default_rng(20240601)
GAUSS_NODES, GAUSS_WEIGHTS = np.polynomial.legendre.leggauss(24)


def ref_skew(w):
    return np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])


def ref_exp(phi):
    return expm(ref_skew(phi))


def ref_right_jacobian(phi):
    """Jr(phi) = int_0^1 Exp(-s phi) ds (Barfoot eq. 7.77 form), by 24-point Gauss-Legendre."""
    s = 0.5 * (GAUSS_NODES + 1.0)
    return sum(0.5 * w * ref_exp(-si * phi) for si, w in zip(s, GAUSS_WEIGHTS))


def random_axis():
    v = RNG.normal(size=3)
    return v / np.linalg.norm(v)


def rotation_vectors():
    """Random, tiny (series branch and its edge) and near-pi rotation vectors."""
    out = [v * min(1.0, 3.0 / np.linalg.norm(v)) for v in RNG.normal(size=(20, 3))]
    out += [random_axis() * t for t in (0.0, 1e-12, 1e-8, 1e-5, 0.99e-4, 1.01e-4, 1e-3, 0.5, 2.0, 3.0)]
    return out + [random_axis() * (np.pi - e) for e in (1e-2, 1e-4, 1e-7, 1e-10)]


PHIS = rotation_vectors()


def test_skew_is_cross_product():
    a, b = RNG.normal(size=(2, 3))
    np.testing.assert_allclose(skew(a) @ b, np.cross(a, b), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(skew(a), ref_skew(a))
    np.testing.assert_array_equal(k.nb_skew(a), skew(a))


@pytest.mark.parametrize("phi", PHIS)
def test_exp_matches_expm_and_scipy(phi):
    R = so3_exp(phi)
    np.testing.assert_array_equal(R, k.nb_so3_exp(phi))
    np.testing.assert_allclose(R, ref_exp(phi), rtol=0, atol=2e-15)
    np.testing.assert_allclose(R, Rotation.from_rotvec(phi).as_matrix(), rtol=0, atol=2e-15)
    np.testing.assert_allclose(R.T @ R, np.eye(3), rtol=0, atol=2e-15)


@pytest.mark.parametrize("phi", PHIS)
def test_log_inverts_exp(phi):
    R = so3_exp(phi)
    phi_back = so3_log(R)
    np.testing.assert_array_equal(phi_back, k.nb_so3_log(R))
    np.testing.assert_allclose(phi_back, phi, rtol=0, atol=1e-12)
    np.testing.assert_allclose(phi_back, Rotation.from_matrix(R).as_rotvec(), rtol=0, atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1.0, 1.0), min_size=3, max_size=3), st.floats(0.0, np.pi))
def test_exp_log_roundtrip_property(axis, angle):
    axis = np.asarray(axis)
    if np.linalg.norm(axis) < 1e-3:
        return
    R = so3_exp(axis / np.linalg.norm(axis) * angle)
    np.testing.assert_allclose(so3_exp(so3_log(R)), R, rtol=0, atol=1e-14)
    assert np.linalg.norm(so3_log(R)) <= np.pi + 1e-15


def test_log_at_exactly_pi():
    for axis in (np.eye(3)[0], np.eye(3)[1], np.eye(3)[2], random_axis()):
        R = Rotation.from_rotvec(np.pi * axis).as_matrix()
        phi = so3_log(R)
        assert abs(np.linalg.norm(phi) - np.pi) < 1e-12
        assert abs(abs(phi @ axis) - np.pi) < 1e-7  # the axis up to sign
        np.testing.assert_allclose(so3_exp(phi), R, rtol=0, atol=1e-14)


@pytest.mark.parametrize("phi", PHIS)
def test_right_jacobian_matches_quadrature_and_its_inverse(phi):
    Jr = so3_right_jacobian(phi)
    np.testing.assert_array_equal(Jr, k.nb_so3_right_jacobian(phi))
    np.testing.assert_allclose(Jr, ref_right_jacobian(phi), rtol=0, atol=1e-14)
    Jr_inv = so3_right_jacobian_inv(phi)
    np.testing.assert_array_equal(Jr_inv, k.nb_so3_right_jacobian_inv(phi))
    np.testing.assert_allclose(Jr_inv @ Jr, np.eye(3), rtol=0, atol=1e-11 if np.linalg.norm(phi) < 3.1 else 1e-9)


@pytest.mark.parametrize("phi", [p for p in PHIS if np.linalg.norm(p) < 3.0])
def test_right_jacobian_by_finite_differences_of_exp(phi):
    """Exp(phi + d) = Exp(phi) Exp(Jr(phi) d) to first order (Forster eq. 7)."""
    h = 1e-6
    numeric = np.column_stack([
        (so3_log(so3_exp(phi).T @ so3_exp(phi + h * e)) - so3_log(so3_exp(phi).T @ so3_exp(phi - h * e))) / (2 * h)
        for e in np.eye(3)])
    np.testing.assert_allclose(numeric, so3_right_jacobian(phi), rtol=0, atol=1e-8)


def test_right_jacobian_inv_in_log_of_product():
    """Log(Exp(phi) Exp(d)) = phi + Jr^-1(phi) d to first order (Forster eq. 9)."""
    for phi in PHIS[:10]:
        d = 1e-7 * RNG.normal(size=3)
        np.testing.assert_allclose(so3_log(so3_exp(phi) @ so3_exp(d)), phi + so3_right_jacobian_inv(phi) @ d,
                                   rtol=0, atol=1e-12)


def test_se3_exp_log_against_matrix_exponential():
    for _ in range(20):
        xi = RNG.normal(size=6)
        xi[3:] *= min(1.0, 3.0 / np.linalg.norm(xi[3:]))
        twist = np.zeros((4, 4))
        twist[:3, :3] = ref_skew(xi[3:])
        twist[:3, 3] = xi[:3]  # [rho (translation), phi (rotation)]
        T = se3_exp(xi)
        np.testing.assert_array_equal(T, k.nb_se3_exp(xi))
        np.testing.assert_allclose(T, expm(twist), rtol=0, atol=1e-13)
        np.testing.assert_allclose(se3_log(T), xi, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(se3_log(T), k.nb_se3_log(T))
    tiny = np.array([0.3, -0.2, 0.1, 1e-9, -2e-9, 0.0])
    np.testing.assert_allclose(se3_log(se3_exp(tiny)), tiny, rtol=0, atol=1e-15)


def test_quaternions_against_scipy():
    # Identity and half-turns about each axis exercise all four branches of Shepperd's method.
    rotations = [np.eye(3)] + [Rotation.from_rotvec((np.pi - 1e-3) * e).as_matrix() for e in np.eye(3)]
    rotations += [so3_exp(phi) for phi in PHIS]
    for R in rotations:
        q_xyzw = rot_to_quat_xyzw(R)
        q_wxyz = rot_to_quat_wxyz(R)
        assert q_wxyz[0] >= 0.0 and abs(np.linalg.norm(q_wxyz) - 1.0) < 1e-15
        ref = Rotation.from_matrix(R).as_quat()  # xyzw
        np.testing.assert_allclose(q_xyzw, ref * np.sign(ref[3] if ref[3] != 0 else 1.0), rtol=0, atol=1e-15)
        np.testing.assert_array_equal(quat_xyzw_to_wxyz(q_xyzw), q_wxyz)
        np.testing.assert_array_equal(quat_wxyz_to_xyzw(q_wxyz), q_xyzw)
        np.testing.assert_allclose(quat_xyzw_to_rot(q_xyzw), R, rtol=0, atol=2e-15)
        np.testing.assert_allclose(quat_wxyz_to_rot(q_wxyz), R, rtol=0, atol=2e-15)
        np.testing.assert_array_equal(k.nb_rot_to_quat_xyzw(R), q_xyzw)
    q = RNG.normal(size=4) * 3.0  # not unit: normalised on input
    np.testing.assert_allclose(quat_wxyz_to_rot(q), Rotation.from_quat(q, scalar_first=True).as_matrix(),
                               rtol=0, atol=2e-15)
    np.testing.assert_allclose(quat_xyzw_to_rot(q), Rotation.from_quat(q).as_matrix(), rtol=0, atol=2e-15)


def test_hamilton_product_order():
    """q(R1 R2) = q1 (x) q2 in the Hamilton convention (w x y z)."""
    R1, R2 = so3_exp(RNG.normal(size=3)), so3_exp(RNG.normal(size=3))
    w1, v1 = rot_to_quat_wxyz(R1)[0], rot_to_quat_wxyz(R1)[1:]
    w2, v2 = rot_to_quat_wxyz(R2)[0], rot_to_quat_wxyz(R2)[1:]
    product = np.concatenate([[w1 * w2 - v1 @ v2], w1 * v2 + w2 * v1 + np.cross(v1, v2)])
    np.testing.assert_allclose(quat_wxyz_to_rot(product), R1 @ R2, rtol=0, atol=1e-15)


@pytest.mark.parametrize("fn, bad", [(so3_exp, np.zeros(4)), (so3_log, np.eye(4)), (se3_exp, np.zeros(3)),
                                     (quat_wxyz_to_rot, np.zeros(3)), (skew, np.zeros((3, 1)))])
def test_bad_shapes_are_rejected(fn, bad):
    with pytest.raises(ValueError, match="expected shape"):
        fn(bad)
