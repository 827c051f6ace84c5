"""lowbit's GGUF block codecs against ggml's own: for every type lowbit encodes, the same float32
rows give the same bytes as ggml_quantize_chunk (the function llama-quantize calls), with and
without an importance matrix, and both decoders give the same floats bit for bit.

ggml-ref (tests/compat/ggml_ref.cc) is compiled here against the static ggml libraries of the
llama.cpp that scripts/llama-cpp.sh builds; ggml-codec is lowbit's side with the same CLI.
"""
import subprocess

import numpy as np
import pytest

from conftest import BUILD, ROOT, run

ROWS = 24


@pytest.fixture(scope="session")
def ggml_ref(llama_cpp, tmp_path_factory):
    top = llama_cpp.parent
    exe = tmp_path_factory.mktemp("ggml-ref") / "ggml-ref"
    libs = [str(top / "lib" / n) for n in ("libggml.a", "libggml-cpu.a", "libggml-base.a")]
    cmd = ["g++", "-O2", "-std=c++17", "-I", str(top / "include"), str(ROOT / "tests" / "compat" / "ggml_ref.cc"),
           "-o", str(exe), *libs, "-fopenmp", "-lpthread", "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return exe


def codec_types():
    if not (BUILD / "ggml-codec").exists():
        pytest.fail(f"{BUILD / 'ggml-codec'} is missing: build lowbit first")
    out = subprocess.run([str(BUILD / "ggml-codec"), "types"], capture_output=True, text=True)
    return out.stdout.split() if out.returncode == 0 else []


def rows(cols, seed):
    """Rows that reach the quantizers' corners: Gaussian, heavy-tailed, one outlier per block,
    an all-zero block, a constant block, tiny and huge magnitudes, all-negative blocks."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((ROWS, cols)).astype(np.float32)
    x[1] = rng.standard_t(2, cols)
    x[2, ::32] *= 40
    x[3, :64] = 0
    x[4, 32:96] = 0.37
    x[5] *= 1e-6
    x[6] *= 1e4
    x[7] = -np.abs(x[7])
    x[8, :256] = 0
    x[9] = np.round(x[9] * 4) / 4  # values on a coarse grid: exact ties in the searches
    x[10] *= 1e-30  # scales underflow to fp16 zero or subnormals
    x[11] = rng.integers(-8, 8, cols) * 0.5  # x / d + offset lands exactly on .5: the ref paths' ties
    x[12] = np.sign(x[12]) * 2.0 ** rng.integers(-12, 12, cols)  # powers of two (MXFP4 exponents)
    x[13] = np.nextafter(np.abs(x[12]).astype(np.float32), np.float32(0))  # just below them
    x[14, :] = -0.37  # constant negative blocks: the signed extreme is negative
    x[15] = 0
    x[15, 5::32] = rng.standard_normal(cols // 32)  # one nonzero element per block
    x[16] = 0.5
    x[16, 1::2] = -0.5  # ties between the two signs of the extreme
    x[17] *= 1e7  # scales overflow fp16 (d becomes Inf)
    return x.astype(np.float32)


def extreme_rows(cols, seed):
    """Magnitudes where ggml's arithmetic leaves the normal range: 1/d overflows to inf for
    subnormal blocks (ggml's float -> int8 casts then give x86's integer indefinite), max - min
    overflows, fp16 scales overflow to inf or underflow to subnormals."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((8, cols)).astype(np.float32)
    with np.errstate(over="ignore"):
        x[0] *= 1e-39
        x[1] *= 3e-38
        x[2] *= 1e30
        x[3] = np.float32(3e38) * np.sign(x[3])
        x[4] *= 65504 * 8
        x[5] = 7 * 2.0**-24 * rng.integers(-20, 20, cols)
        x[6] *= 1e-16  # below ggml's 1e-15 "all zero" threshold of the searches
        x[7, ::2] *= 1e-41
    return x.astype(np.float32)


def importance(cols, seed):
    rng = np.random.default_rng(seed + 1)
    w = (rng.standard_normal(cols) ** 2).astype(np.float32) * 3
    w[::17] = 0  # channels the calibration never excited
    w[64:96] = 0  # a whole block of them
    w[256:288] = 0  # a whole sub-block of them
    return w


def quantize(exe, typ, x, tmp, imatrix=None, tag=""):
    src, out = tmp / f"x{tag}.f32", tmp / f"y{tag}.bin"
    x.tofile(src)
    args = [exe, "quantize", typ, x.shape[0], x.shape[1], src, out]
    if imatrix is not None:
        (tmp / "w.f32").write_bytes(imatrix.tobytes())
        args.append(tmp / "w.f32")
    run(*args)
    return out.read_bytes()


def dequantize(exe, typ, data, n, tmp, tag=""):
    src, out = tmp / f"q{tag}.bin", tmp / f"d{tag}.f32"
    src.write_bytes(data)
    run(exe, "dequantize", typ, n, src, out)
    return np.fromfile(out, dtype=np.float32)


def block_diff(a, b, typ, cols):
    """Which (row, block) pairs differ, for the failure message."""
    import gguf
    qt = gguf.GGMLQuantizationType[typ.upper()]
    block, size = gguf.GGML_QUANT_SIZES[qt]
    A = np.frombuffer(a, np.uint8).reshape(-1, size)
    B = np.frombuffer(b, np.uint8).reshape(-1, size)
    bad = np.nonzero((A != B).any(axis=1))[0]
    per_row = cols // block
    return [(int(i // per_row), int(i % per_row)) for i in bad[:8]], len(bad), len(A)


@pytest.mark.parametrize("typ", codec_types())
@pytest.mark.parametrize("with_imatrix", [False, True])
def test_quantized_bytes_equal_ggml(typ, with_imatrix, ggml_ref, tmp_path):
    for cols, seed in ((768, 1), (512, 2)):
        x = rows(cols, seed)
        w = importance(cols, seed) if with_imatrix else None
        ours = quantize(BUILD / "ggml-codec", typ, x, tmp_path, w, "o")
        ref = quantize(ggml_ref, typ, x, tmp_path, w, "r")
        assert len(ours) == len(ref)
        if ours != ref:
            where, n, total = block_diff(ours, ref, typ, cols)
            pytest.fail(f"{typ}: {n} of {total} blocks differ from ggml's (row, block): {where}")


# The types whose encoders are also checked on extreme magnitudes (extreme_rows).
EXTREME_TYPES = ("q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "iq4_nl", "mxfp4")


@pytest.mark.parametrize("typ", [t for t in codec_types() if t in EXTREME_TYPES])
@pytest.mark.parametrize("with_imatrix", [False, True])
def test_extreme_magnitudes_equal_ggml(typ, with_imatrix, ggml_ref, tmp_path):
    cols = 256
    x = extreme_rows(cols, 4)
    w = importance(cols, 4) if with_imatrix else None
    ours = quantize(BUILD / "ggml-codec", typ, x, tmp_path, w, "o")
    ref = quantize(ggml_ref, typ, x, tmp_path, w, "r")
    if ours != ref:
        where, n, total = block_diff(ours, ref, typ, cols)
        pytest.fail(f"{typ}: {n} of {total} blocks differ from ggml's (row, block): {where}")


@pytest.mark.parametrize("typ", codec_types())
def test_decoders_agree_bit_for_bit(typ, ggml_ref, tmp_path):
    cols = 768
    x = rows(cols, 3)
    data = quantize(ggml_ref, typ, x, tmp_path, importance(cols, 3), "r")
    ours = dequantize(BUILD / "ggml-codec", typ, data, x.size, tmp_path, "o")
    ref = dequantize(ggml_ref, typ, data, x.size, tmp_path, "r")
    assert np.array_equal(ours.view(np.uint32), ref.view(np.uint32))
    # The gguf package's numpy decoder is a third, independent reading of the layout.
    import gguf
    qt = gguf.GGMLQuantizationType[typ.upper()]
    if typ not in ("f32", "f16", "bf16"):
        py = gguf.quants.dequantize(np.frombuffer(data, np.uint8).reshape(ROWS, -1), qt).astype(np.float32).ravel()
        same = py.view(np.uint32) == ours.view(np.uint32)  # bits: an Inf scale decodes to NaNs
        assert same.all(), f"{typ}: gguf-py decodes differently at {np.nonzero(~same)[0][:8]}"
