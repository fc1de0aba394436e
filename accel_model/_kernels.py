"""Numba kernels of the frame codec (:mod:`accel_model.codec`).

A LOCO-I / JPEG-LS coder for 8-bit images (Weinberger, Seroussi, Sapiro, "The LOCO-I
lossless image compression algorithm", IEEE TIP 9(8) 2000; ITU-T T.87 Annex A), with
the T.87 parameters for MAXVAL = 255: RESET = 64, LIMIT = 32, default thresholds
T1, T2, T3 (C.2.4.1.1). Per pixel, from the causal neighbours a (left), b (above),
c (above-left), d (above-right) of the reconstructed image:

- gradients d-b, b-c, c-a quantised to 9 levels each and sign-merged into one of 365
  contexts (A.3);
- all three gradients within +-NEAR: run mode (A.7), run lengths coded with the J table
  and RUNindex, the run-interruption sample coded in two extra contexts;
- otherwise regular mode: MED prediction (A.4.1), bias correction C[Q] (A.4.2),
  residual quantised for NEAR > 0 with reconstruction in the loop (A.4.4), modulo
  reduction (A.4.5), Golomb-Rice code with k from A[Q]/N[Q] and LIMIT-length escape
  (A.5), context update with halving at RESET and bias cancellation (A.6).

Departures from T.87, none affecting compression: the output is a bare bit stream
(MSB first, zero-padded to a byte, no 0xFF bit stuffing or markers; the container lives
in ``codec.py``), and B[Q] is halved with an arithmetic shift.

Only two lines are kept: ``lines[y & 1]`` is the current row, ``lines[(y + 1) & 1]``
the previous one, each with one border sample on either side (index x + 1 holds column
x). As in T.87, the left border of a row is the first sample of the row above, the
right border repeats the row's last sample, and the row above the image is zero.

Both kernels add to ``events`` (int64, indexed by ``EV_*``) the counts from which
``codec.py`` derives operations and traffic: regular-mode samples, run-mode entries,
samples inside runs, run-length code words, run-interruption samples, the sum of the
Golomb parameters k, and payload bits.
"""
from __future__ import annotations

import numpy as np
from numba import njit

MAXVAL = 255
RESET = 64
LIMIT = 32  # T.87 A.2.1: 2 * (bpp + max(8, bpp)), bpp = 8
N_REGULAR = 365  # contexts of the regular mode (index 0 unused: it is the run mode)
N_CONTEXTS = N_REGULAR + 2  # + run-interruption contexts for RItype 0 and 1
# T.87 A.7.1.2: run-length order table
J = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3,
              4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15], dtype=np.int64)
EVENTS = ("regular", "run_start", "run_sample", "run_code", "interruption", "k_sum", "bits")
EV_REGULAR, EV_RUN_START, EV_RUN_SAMPLE, EV_RUN_CODE, EV_INTERRUPT, EV_K, EV_BITS = range(len(EVENTS))
ERR_OK, ERR_TRUNCATED, ERR_BAD_CODE, ERR_BAD_RUN, ERR_PADDING = range(5)
PAD = 8  # zero bytes after the decoder's copy of the payload (look-ahead room)


@njit(inline="always")
def _threshold(value, low, high):
    """T.87 C.2.4.1.1 CLAMP: ``value`` when within [low, high], else ``low``."""
    return value if low <= value <= high else low


@njit(inline="always")
def _coding_parameters(near):
    """(RANGE, qbpp, T1, T2, T3) for MAXVAL = 255 (T.87 A.2.1 and C.2.4.1.1)."""
    rng = (MAXVAL + 2 * near) // (2 * near + 1) + 1
    qbpp = 0
    while (1 << qbpp) < rng:
        qbpp += 1
    t1 = _threshold(3 + 3 * near, near + 1, MAXVAL)
    t2 = _threshold(7 + 5 * near, t1, MAXVAL)
    t3 = _threshold(21 + 7 * near, t2, MAXVAL)
    return rng, qbpp, t1, t2, t3


@njit(inline="always")
def _gradient_table(near, t1, t2, t3):
    """Quantised gradient (T.87 A.3.3), -4..4, of every difference -255..255 at index d + 255."""
    table = np.empty(2 * MAXVAL + 1, dtype=np.int64)
    for i in range(table.size):
        d = i - MAXVAL
        if d <= -t3:
            q = -4
        elif d <= -t2:
            q = -3
        elif d <= -t1:
            q = -2
        elif d < -near:
            q = -1
        elif d <= near:
            q = 0
        elif d < t1:
            q = 1
        elif d < t2:
            q = 2
        elif d < t3:
            q = 3
        else:
            q = 4
        table[i] = q
    return table


@njit(inline="always")
def _contexts(rng):
    """Context counters A, B, C, N, Nn initialised as in T.87 A.2.1."""
    A = np.full(N_CONTEXTS, max(2, (rng + 32) // 64), dtype=np.int64)
    B = np.zeros(N_CONTEXTS, dtype=np.int64)
    C = np.zeros(N_CONTEXTS, dtype=np.int64)
    N = np.ones(N_CONTEXTS, dtype=np.int64)
    Nn = np.zeros(N_CONTEXTS, dtype=np.int64)
    return A, B, C, N, Nn


@njit(inline="always")
def _med(a, b, c):
    """Median edge detector (LOCO-I, T.87 A.4.1)."""
    hi, lo = max(a, b), min(a, b)
    return lo if c >= hi else (hi if c <= lo else a + b - c)


@njit(inline="always")
def _reconstruct(px, sign, err, near, step, rng):
    """Rx from the prediction and a (possibly modulo-reduced) quantised error (T.87 A.4.4, A.8)."""
    rx = px + sign * err * step
    if rx < -near:
        rx += rng * step
    elif rx > MAXVAL + near:
        rx -= rng * step
    return min(max(rx, 0), MAXVAL)


@njit(inline="always")
def _quantise(err, near, step):
    """Prediction error quantised to a multiple of 2*NEAR+1 (T.87 A.4.4)."""
    if near == 0:
        return err
    return (err + near) // step if err > 0 else -((near - err) // step)


@njit(inline="always")
def _modulo(err, rng):
    """Error reduced modulo RANGE into [ceil(RANGE/2) - RANGE, ceil(RANGE/2) - 1] (T.87 A.4.5)."""
    if err < 0:
        err += rng
    if err >= (rng + 1) // 2:
        err -= rng
    return err


@njit(inline="always")
def _golomb_k(n, a):
    """Smallest k with N << k >= A (T.87 A.5.1)."""
    k = 0
    while (n << k) < a:
        k += 1
    return k


@njit(inline="always")
def _update_regular(q, err, step, A, B, C, N):
    """Context update with halving at RESET and bias cancellation (T.87 A.6.1, A.6.2)."""
    a = A[q] + abs(err)
    b = B[q] + err * step
    c = C[q]
    n = N[q]
    if n == RESET:
        a >>= 1
        b >>= 1
        n >>= 1
    n += 1
    if b <= -n:
        b += n
        if c > -128:
            c -= 1
        if b <= -n:
            b = -n + 1
    elif b > 0:
        b -= n
        if c < 127:
            c += 1
        if b > 0:
            b = 0
    A[q], B[q], C[q], N[q] = a, b, c, n


@njit(inline="always")
def _update_interruption(q, err, em, ritype, A, N, Nn):
    """Run-interruption context update (T.87 A.7.2.2)."""
    if err < 0:
        Nn[q] += 1
    A[q] += (em + 1 - ritype) >> 1
    if N[q] == RESET:
        A[q] >>= 1
        N[q] >>= 1
        Nn[q] >>= 1
    N[q] += 1


@njit(inline="always")
def _interruption_map(err, k, nn, n):
    """T.87 A.7.2.1: the map bit of a run-interruption error."""
    if k == 0 and err > 0 and 2 * nn < n:
        return 1
    if err < 0 and (2 * nn >= n or k != 0):
        return 1
    return 0


# ----------------------------------------------------------------------- bit writer

@njit(inline="always")
def _put(out, acc, nacc, pos, value, n):
    """Append the ``n`` (<= 55) low bits of ``value``, MSB first, to the ``nacc`` (< 8)
    bits pending in ``acc``; whole bytes go to ``out``. Returns (acc, nacc, pos)."""
    acc = (acc << n) | value
    nacc += n
    while nacc >= 8:
        nacc -= 8
        out[pos] = (acc >> nacc) & 0xFF
        pos += 1
    return acc & ((1 << nacc) - 1), nacc, pos


@njit(inline="always")
def _put_golomb(out, acc, nacc, pos, m, k, limit, qbpp):
    """Limited-length Golomb-Rice code of ``m`` (T.87 A.5.3); returns (acc, nacc, pos)."""
    hi = m >> k
    if hi < limit - qbpp - 1:
        acc, nacc, pos = _put(out, acc, nacc, pos, (1 << k) | (m & ((1 << k) - 1)), hi + 1 + k)
    else:
        acc, nacc, pos = _put(out, acc, nacc, pos, 1, limit - qbpp)
        acc, nacc, pos = _put(out, acc, nacc, pos, m - 1, qbpp)
    return acc, nacc, pos


# ----------------------------------------------------------------------- bit reader
# The reader works on a copy of the payload followed by PAD zero bytes, so that a 32-bit
# look-ahead never leaves the array; every read checks the position against the payload
# length and reports a read past its end.


@njit(inline="always")
def _leading_zero_table():
    """Leading zero bits of every byte value (8 for 0)."""
    table = np.empty(256, dtype=np.int64)
    for v in range(256):
        z = 0
        while z < 8 and not (v >> (7 - z)) & 1:
            z += 1
        table[v] = z
    return table


@njit(inline="always")
def _peek(buf, pos):
    """The 32 bits at bit ``pos`` (bits past the payload read as zero)."""
    i = pos >> 3
    v = (buf[i] << 32) | (buf[i + 1] << 24) | (buf[i + 2] << 16) | (buf[i + 3] << 8) | buf[i + 4]
    return (v >> (8 - (pos & 7))) & 0xFFFFFFFF


@njit(inline="always")
def _get(buf, nbits, pos, n):
    """Read ``n`` (<= 32) bits at bit ``pos``; returns (value, pos), value -1 past the end."""
    value = _peek(buf, pos) >> (32 - n)
    pos += n
    return (-1 if pos > nbits else value), pos


@njit(inline="always")
def _get_golomb(buf, nbits, pos, k, limit, qbpp, lz):
    """Inverse of :func:`_put_golomb`; returns (m, pos), m -1 if the code runs past the
    end of the payload, -2 if it is longer than ``limit`` allows."""
    max_zeros = limit - qbpp - 1
    window = _peek(buf, pos)
    zeros = 0
    while zeros < 32:  # leading zeros of the window, a byte at a time
        z = lz[(window >> (24 - zeros)) & 0xFF]
        zeros += z
        if z < 8:
            break
    if zeros > max_zeros:
        return (-1 if pos + max_zeros + 1 > nbits else -2), pos
    pos += zeros + 1
    if pos > nbits:
        return -1, pos
    if zeros < max_zeros:
        if zeros + k < 32:  # the k low bits are in the window too
            pos += k
            low = (window >> (31 - zeros - k)) & ((1 << k) - 1)
            return (-1 if pos > nbits else (zeros << k) | low), pos
        low, pos = _get(buf, nbits, pos, k)
        return (low if low < 0 else (zeros << k) | low), pos
    low, pos = _get(buf, nbits, pos, qbpp)
    return (low if low < 0 else low + 1), pos


# ----------------------------------------------------------------------- coder

@njit(inline="always")
def _context(a, b, c, d, table):
    """Context of the regular mode (T.87 A.3): (Q, SIGN), Q = 0 for the run mode.

    Q = 81 Q1 + 9 Q2 + Q3 is negative exactly when the first non-zero Qi is, so its
    absolute value is the sign-merged context (A.3.4) and its sign is SIGN."""
    q = (table[d - b + MAXVAL] * 9 + table[b - c + MAXVAL]) * 9 + table[c - a + MAXVAL]
    return abs(q), (-1 if q < 0 else 1)


@njit(inline="always")
def _map_regular(err, special):
    """Error to non-negative code value (T.87 A.5.2); ``special`` is the k = 0, negative
    bias case that swaps the roles of positive and negative errors."""
    if special:
        return 2 * err + 1 if err >= 0 else -2 * (err + 1)
    return 2 * err if err >= 0 else -2 * err - 1


@njit(inline="always")
def _unmap_regular(m, special):
    """Inverse of :func:`_map_regular`."""
    if special:
        return (m - 1) >> 1 if m & 1 else -(m >> 1) - 1
    return -((m + 1) >> 1) if m & 1 else m >> 1


@njit(inline="always")
def _special_map(near, k, b, n):
    """T.87 A.5.2: lossless, k = 0 and a negative bias swap the error mapping."""
    return near == 0 and k == 0 and 2 * b <= -n


@njit(inline="always")
def _interruption_prediction(a, b, near):
    """(RItype, Px, SIGN) of a run-interruption sample (T.87 A.7.2.1)."""
    if abs(a - b) <= near:
        return 1, a, 1
    return 0, b, (-1 if a > b else 1)


@njit(cache=True)
def encode_kernel(img, near, out, events):
    """Encode ``img`` (h, w) uint8 with error bound ``near`` into ``out`` (uint8, at least
    4 * h * w + 8 bytes: LIMIT = 32 bits bound every sample's code); adds to ``events``
    (see ``EVENTS``) and returns the number of payload bytes written."""
    h, w = img.shape
    rng, qbpp, t1, t2, t3 = _coding_parameters(near)
    table = _gradient_table(near, t1, t2, t3)
    A, B, C, N, Nn = _contexts(rng)
    lines = np.zeros((2, w + 2), dtype=np.int64)
    step = 2 * near + 1
    acc = nacc = pos = ri = 0
    for y in range(h):
        prev = lines[(y + 1) & 1]
        cur = lines[y & 1]
        cur[0] = prev[1]
        x = 0
        while x < w:
            a, b, c, d = cur[x], prev[x + 1], prev[x], prev[x + 2]
            q, sign = _context(a, b, c, d, table)
            if q != 0:  # regular mode (T.87 A.4 - A.6)
                px = min(max(_med(a, b, c) + sign * C[q], 0), MAXVAL)
                err = _quantise(sign * (int(img[y, x]) - px), near, step)
                cur[x + 1] = _reconstruct(px, sign, err, near, step, rng)
                err = _modulo(err, rng)
                k = _golomb_k(N[q], A[q])
                m = _map_regular(err, _special_map(near, k, B[q], N[q]))
                acc, nacc, pos = _put_golomb(out, acc, nacc, pos, m, k, LIMIT, qbpp)
                _update_regular(q, err, step, A, B, C, N)
                events[EV_REGULAR] += 1
                events[EV_K] += k
                x += 1
                continue
            # run mode (T.87 A.7.1)
            start = x
            while x < w and abs(int(img[y, x]) - a) <= near:
                cur[x + 1] = a
                x += 1
            cnt = x - start
            events[EV_RUN_START] += 1
            events[EV_RUN_SAMPLE] += cnt
            while cnt >= (1 << J[ri]):
                acc, nacc, pos = _put(out, acc, nacc, pos, 1, 1)
                events[EV_RUN_CODE] += 1
                cnt -= 1 << J[ri]
                if ri < 31:
                    ri += 1
            if x == w:
                if cnt > 0:
                    acc, nacc, pos = _put(out, acc, nacc, pos, 1, 1)
                    events[EV_RUN_CODE] += 1
                break
            acc, nacc, pos = _put(out, acc, nacc, pos, cnt, J[ri] + 1)
            events[EV_RUN_CODE] += 1
            # run-interruption sample (T.87 A.7.2)
            ritype, px, sign = _interruption_prediction(a, prev[x + 1], near)
            err = _quantise(sign * (int(img[y, x]) - px), near, step)
            cur[x + 1] = _reconstruct(px, sign, err, near, step, rng)
            err = _modulo(err, rng)
            q = N_REGULAR + ritype
            k = _golomb_k(N[q], A[q] + (N[q] >> 1) * ritype)
            em = 2 * abs(err) - ritype - _interruption_map(err, k, Nn[q], N[q])
            acc, nacc, pos = _put_golomb(out, acc, nacc, pos, em, k, LIMIT - J[ri] - 1, qbpp)
            _update_interruption(q, err, em, ritype, A, N, Nn)
            if ri > 0:
                ri -= 1
            events[EV_INTERRUPT] += 1
            events[EV_K] += k
            x += 1
        cur[w + 1] = cur[w]
    events[EV_BITS] += 8 * pos + nacc
    if nacc > 0:  # zero-pad the last byte
        acc, nacc, pos = _put(out, acc, nacc, pos, 0, 8 - nacc)
    return pos


@njit(cache=True)
def decode_kernel(data, near, out, events):
    """Decode the payload ``data`` (uint8) into ``out`` (h, w) uint8; adds to ``events``.

    Returns ``ERR_OK`` or an error code: every read is bounds-checked
    (``ERR_TRUNCATED``), invalid codes and out-of-range errors give ``ERR_BAD_CODE``,
    a run past the end of its line ``ERR_BAD_RUN``, and bits left over after the last
    sample (beyond the zero padding of the last byte) ``ERR_PADDING``.
    """
    h, w = out.shape
    nbits = 8 * data.size
    buf = np.zeros(data.size + PAD, dtype=np.int64)
    buf[:data.size] = data
    lz = _leading_zero_table()
    rng, qbpp, t1, t2, t3 = _coding_parameters(near)
    table = _gradient_table(near, t1, t2, t3)
    A, B, C, N, Nn = _contexts(rng)
    lines = np.zeros((2, w + 2), dtype=np.int64)
    step = 2 * near + 1
    err_lo, err_hi = (rng + 1) // 2 - rng, (rng + 1) // 2 - 1
    pos = ri = 0
    for y in range(h):
        prev = lines[(y + 1) & 1]
        cur = lines[y & 1]
        cur[0] = prev[1]
        x = 0
        while x < w:
            a, b, c, d = cur[x], prev[x + 1], prev[x], prev[x + 2]
            q, sign = _context(a, b, c, d, table)
            if q != 0:
                px = min(max(_med(a, b, c) + sign * C[q], 0), MAXVAL)
                k = _golomb_k(N[q], A[q])
                m, pos = _get_golomb(buf, nbits, pos, k, LIMIT, qbpp, lz)
                if m < 0:
                    return ERR_TRUNCATED if m == -1 else ERR_BAD_CODE
                err = _unmap_regular(m, _special_map(near, k, B[q], N[q]))
                if err < err_lo or err > err_hi:
                    return ERR_BAD_CODE
                rx = _reconstruct(px, sign, err, near, step, rng)
                cur[x + 1] = rx
                out[y, x] = rx
                _update_regular(q, err, step, A, B, C, N)
                events[EV_REGULAR] += 1
                events[EV_K] += k
                x += 1
                continue
            events[EV_RUN_START] += 1
            interrupted = False
            while x < w:
                bit, pos = _get(buf, nbits, pos, 1)
                if bit < 0:
                    return ERR_TRUNCATED
                if bit == 1:
                    cnt = min(1 << J[ri], w - x)
                    if cnt == (1 << J[ri]) and ri < 31:
                        ri += 1
                else:
                    cnt, pos = _get(buf, nbits, pos, J[ri])
                    if cnt < 0:
                        return ERR_TRUNCATED
                    if cnt >= w - x:
                        return ERR_BAD_RUN
                    interrupted = True
                events[EV_RUN_CODE] += 1
                events[EV_RUN_SAMPLE] += cnt
                for i in range(x, x + cnt):
                    cur[i + 1] = a
                    out[y, i] = a
                x += cnt
                if interrupted:
                    break
            if not interrupted:
                break
            ritype, px, sign = _interruption_prediction(a, prev[x + 1], near)
            q = N_REGULAR + ritype
            k = _golomb_k(N[q], A[q] + (N[q] >> 1) * ritype)
            em, pos = _get_golomb(buf, nbits, pos, k, LIMIT - J[ri] - 1, qbpp, lz)
            if em < 0:
                return ERR_TRUNCATED if em == -1 else ERR_BAD_CODE
            temp = em + ritype
            mag = (temp + (temp & 1)) >> 1
            negative = (k != 0 or 2 * Nn[q] >= N[q]) == ((temp & 1) == 1)
            err = -mag if negative else mag
            if err < err_lo or err > err_hi:
                return ERR_BAD_CODE
            rx = _reconstruct(px, sign, err, near, step, rng)
            cur[x + 1] = rx
            out[y, x] = rx
            _update_interruption(q, err, em, ritype, A, N, Nn)
            if ri > 0:
                ri -= 1
            events[EV_INTERRUPT] += 1
            events[EV_K] += k
            x += 1
        cur[w + 1] = cur[w]
    events[EV_BITS] += pos
    if (pos + 7) // 8 != data.size:
        return ERR_PADDING
    if pos & 7 and data[pos >> 3] & ((1 << (8 - (pos & 7))) - 1):
        return ERR_PADDING
    return ERR_OK
