"""Importance matrices against llama.cpp's own tools.

(a) Given llama-imatrix's file (GGUF or legacy .dat), `lowbit quantize --imatrix` writes the very
    bytes `llama-quantize --imatrix` writes from the converter's BF16 GGUF.
(b) llama-quantize reads lowbit's imatrix files (both forms) and writes what lowbit writes with them.
(c) lowbit's reader and gguf-py (GGUF) or a plain struct reader (.dat) read the same sums, counts and
    metadata from llama-imatrix's files and from ours; the importance vectors are llama-quantize's.
(d) lowbit's sums of x^2 (its own float32 forward of the Hugging Face weights) against llama-imatrix's
    (ggml's forward of the BF16 GGUF) on the same text and chunks: the measured relative difference.
"""
import json
import struct
import subprocess

import numpy as np
import pytest

from conftest import BUILD, ROOT, run
from test_gguf_export import codec_types, compare, smollm2_bf16, tiny_bf16, tiny_gguf_model  # noqa: F401 (fixtures)

WIKITEXT = ROOT.parent / "shared" / "data" / "wikitext-2-raw-test.txt"
CTX, CHUNKS = 128, 8


@pytest.fixture(scope="session")
def wiki_piece(tmp_path_factory):
    """The first 40 kB of wikitext-2's test split (about 10k tokens), in a temporary folder."""
    if not WIKITEXT.exists():
        pytest.skip(f"{WIKITEXT} is absent")
    out = tmp_path_factory.mktemp("wiki") / "wiki-piece.txt"
    out.write_bytes(WIKITEXT.read_bytes()[:40000])
    return out


def llama_imatrix(llama_cpp, model_gguf, text, out, *extra, chunks=CHUNKS):
    proc = subprocess.run([str(llama_cpp / "llama-imatrix"), "-m", str(model_gguf), "-f", str(text), "-o", str(out),
                           "-c", str(CTX), "--chunks", str(chunks), "-t", "2", "--no-ppl", *extra],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.exists()
    return out


def llama_quantize(llama_cpp, bf16, out, ftype, imatrix):
    proc = subprocess.run([str(llama_cpp / "llama-quantize"), "--imatrix", str(imatrix), str(bf16), str(out), ftype, "2"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope="session")
def tiny_imatrices(tiny_bf16, wiki_piece, llama_cpp, tmp_path_factory):
    """llama-imatrix's files for the tiny Llama (output.weight included), both forms."""
    d = tmp_path_factory.mktemp("tiny-imatrix")
    return {
        "gguf": llama_imatrix(llama_cpp, tiny_bf16, wiki_piece, d / "ref.imatrix.gguf", "--process-output"),
        "dat": llama_imatrix(llama_cpp, tiny_bf16, wiki_piece, d / "ref.imatrix.dat", "--process-output",
                             "--output-format", "dat"),
    }


@pytest.fixture(scope="session")
def our_tiny_imatrices(tiny_gguf_model, wiki_piece, tmp_path_factory):
    """lowbit imatrix's files for the same model, text and chunks, both forms."""
    d = tmp_path_factory.mktemp("our-tiny-imatrix")
    out = {}
    for form in ("gguf", "dat"):
        out[form] = d / f"ours.imatrix.{form}"
        run(BUILD / "lowbit", "imatrix", tiny_gguf_model, "--calib", wiki_piece, "--seq-len", CTX, "--samples", CHUNKS,
            "--process-output", "-o", out[form], "--output-format", form, "--progress", "off")
    return out


SMOL_CHUNKS = 2


@pytest.fixture(scope="session")
def smol_imatrix(smollm2_bf16, wiki_piece, llama_cpp, tmp_path_factory):
    return llama_imatrix(llama_cpp, smollm2_bf16, wiki_piece, tmp_path_factory.mktemp("smol") / "ref.imatrix.gguf",
                         "--process-output", chunks=SMOL_CHUNKS)


def need(types):
    missing = set(types) - codec_types()
    if missing:
        pytest.skip(f"lowbit has no encoder for {sorted(missing)} yet")


def dump(path):
    """lowbit's reader: {format, datasets, chunk_count, chunk_size, entries: {name: {sums, counts, importance}}}."""
    out = json.loads(run(BUILD / "imatrix-dump", path))
    for e in out["entries"].values():
        e["sums"] = np.array(e["sums"], dtype=np.uint32).view(np.float32)
        e["importance"] = np.array(e["importance"], dtype=np.uint32).view(np.float32)
    return out


def read_gguf_imatrix(path):
    """gguf-py's reading of a GGUF imatrix, in dump()'s shape, the importance as llama-quantize computes it."""
    import gguf
    r = gguf.GGUFReader(str(path))
    f = r.fields
    out = {"datasets": f["imatrix.datasets"].contents(), "chunk_count": f["imatrix.chunk_count"].contents(),
           "chunk_size": f["imatrix.chunk_size"].contents(), "entries": {}}
    t = {x.name: np.asarray(x.data, dtype=np.float32) for x in r.tensors}
    for name in t:
        if not name.endswith(".in_sum2"):
            continue
        base = name[:-len(".in_sum2")]
        sums, counts = t[name].reshape(-1), t[base + ".counts"].reshape(-1)
        ne0 = sums.size // counts.size
        imp = np.concatenate([sums[j * ne0:(j + 1) * ne0] / np.float32(c) if c > 0 else np.ones(ne0, np.float32)
                              for j, c in enumerate(counts)]).astype(np.float32)
        out["entries"][base] = {"sums": sums, "counts": [int(round(float(c))) for c in counts], "importance": imp}
    return out


def read_dat_imatrix(path):
    """The legacy .dat form, read as llama.cpp's common_imatrix_load_legacy reads it."""
    b = path.read_bytes()
    at = 0

    def take(fmt):
        nonlocal at
        v = struct.unpack_from(fmt, b, at)
        at += struct.calcsize(fmt)
        return v

    (n,) = take("<i")
    out = {"entries": {}, "datasets": [], "chunk_count": 0, "chunk_size": 0}
    for _ in range(n):
        (ln,) = take("<i")
        name = b[at:at + ln].decode()
        at += ln
        ncall, nval = take("<ii")
        sums = np.frombuffer(b, dtype="<f4", count=nval, offset=at).astype(np.float32)
        at += 4 * nval
        imp = (sums / np.float32(ncall)).astype(np.float32) if ncall > 0 else sums
        out["entries"][name] = {"sums": sums, "counts": [ncall], "importance": imp}
    if at < len(b):
        (out["chunk_count"],) = take("<i")
        (ln,) = take("<i")
        out["datasets"] = [b[at:at + ln].decode()] if ln > 0 else []
    return out


def assert_same_reading(ours, ref):
    for k in ("datasets", "chunk_count", "chunk_size"):
        assert ours[k] == ref[k], (k, ours[k], ref[k])
    assert ours["entries"].keys() == ref["entries"].keys()
    for name, e in ref["entries"].items():
        o = ours["entries"][name]
        assert o["counts"] == e["counts"], name
        assert np.array_equal(o["sums"].view(np.uint32), e["sums"].view(np.uint32)), name
        assert np.array_equal(o["importance"].view(np.uint32), e["importance"].view(np.uint32)), name


# (a) llama-imatrix's file: the same bytes as llama-quantize.
FTYPES = [("Q4_K_M", {"q4_K", "q6_K"}), ("Q4_0", {"q4_0", "q6_K"}), ("IQ4_XS", {"iq4_xs", "q6_K"}),
          ("Q3_K_M", {"q3_K", "q4_K", "q5_K", "q6_K"}), ("Q2_K", {"q2_K", "q3_K", "q4_K", "q6_K"})]


@pytest.mark.parametrize("ftype,types", FTYPES, ids=[f for f, _ in FTYPES])
def test_llama_imatrix_file_gives_llama_quantizes_bytes(ftype, types, tiny_gguf_model, tiny_bf16, tiny_imatrices,
                                                        llama_cpp, lowbit, tmp_path):
    need(types)
    im = tiny_imatrices["gguf"]
    ref, ours = tmp_path / "ref.gguf", tmp_path / "ours.gguf"
    llama_quantize(llama_cpp, tiny_bf16, ref, ftype, im)
    lowbit("quantize", tiny_gguf_model, "-o", ours, "--gguf-type", ftype, "--imatrix", im, "--threads", "2",
           "--progress", "off")
    compare(ours, ref)  # tensors and metadata, the quantize.imatrix.* keys included


def test_llama_imatrix_legacy_file_gives_llama_quantizes_bytes(tiny_gguf_model, tiny_bf16, tiny_imatrices, llama_cpp,
                                                               lowbit, tmp_path):
    need({"q4_K", "q6_K"})
    im = tiny_imatrices["dat"]
    ref, ours = tmp_path / "ref.gguf", tmp_path / "ours.gguf"
    llama_quantize(llama_cpp, tiny_bf16, ref, "Q4_K_M", im)
    lowbit("quantize", tiny_gguf_model, "-o", ours, "--gguf-type", "Q4_K_M", "--imatrix", im, "--progress", "off")
    compare(ours, ref)


def test_llama_imatrix_file_on_smollm2(smollm2, smollm2_bf16, smol_imatrix, llama_cpp, lowbit, tmp_path):
    """SmolLM2's rows (576, 1536) take llama-quantize's fallback types; the tied head has no entry."""
    need({"q5_0", "q8_0", "q4_K", "q6_K"})
    im = smol_imatrix
    ref, ours = tmp_path / "ref.gguf", tmp_path / "ours.gguf"
    llama_quantize(llama_cpp, smollm2_bf16, ref, "Q4_K_M", im)
    lowbit("quantize", smollm2, "-o", ours, "--gguf-type", "Q4_K_M", "--imatrix", im, "--progress", "off")
    compare(ours, ref)


# (b) our files, read by llama-quantize.
@pytest.mark.parametrize("form", ["gguf", "dat"])
def test_our_imatrix_is_read_by_llama_quantize(form, tiny_gguf_model, tiny_bf16, our_tiny_imatrices, wiki_piece,
                                               llama_cpp, lowbit, tmp_path):
    need({"q4_K", "q6_K"})
    im = our_tiny_imatrices[form]
    ref, ours = tmp_path / "ref.gguf", tmp_path / "ours.gguf"
    log = llama_quantize(llama_cpp, tiny_bf16, ref, "Q4_K_M", im)
    assert f"loaded {8 * 7 + 1} importance matrix entries" in log, log[-2000:]
    lowbit("quantize", tiny_gguf_model, "-o", ours, "--gguf-type", "Q4_K_M", "--imatrix", im, "--progress", "off")
    compare(ours, ref)
    if form == "gguf":
        # --calib computes the same matrix in the same run: the same tensors (its quantize.imatrix.file differs).
        direct = tmp_path / "direct.gguf"
        lowbit("quantize", tiny_gguf_model, "-o", direct, "--gguf-type", "Q4_K_M", "--calib", wiki_piece, "--seq-len",
               CTX, "--samples", CHUNKS, "--process-output", "--progress", "off")
        import gguf
        a, b = gguf.GGUFReader(str(direct)), gguf.GGUFReader(str(ours))
        assert [(t.name, bytes(t.data)) for t in a.tensors] == [(t.name, bytes(t.data)) for t in b.tensors]
        assert a.fields["quantize.imatrix.file"].contents() == f"lowbit --calib {wiki_piece}"


# (c) the readers agree.
def test_readers_agree_on_llama_imatrixs_files(tiny_imatrices):
    assert_same_reading(dump(tiny_imatrices["gguf"]), read_gguf_imatrix(tiny_imatrices["gguf"]))
    assert_same_reading(dump(tiny_imatrices["dat"]), read_dat_imatrix(tiny_imatrices["dat"]))
    ours = dump(tiny_imatrices["gguf"])
    assert ours["format"] == "GGUF" and ours["chunk_count"] == CHUNKS and ours["chunk_size"] == CTX
    assert "output.weight" in ours["entries"] and "token_embd.weight" not in ours["entries"]


def test_readers_agree_on_our_files_and_the_layout_is_llama_imatrixs(our_tiny_imatrices, tiny_imatrices, wiki_piece):
    import gguf
    g, d = our_tiny_imatrices["gguf"], our_tiny_imatrices["dat"]
    assert_same_reading(dump(g), read_gguf_imatrix(g))
    assert_same_reading(dump(d), read_dat_imatrix(d))
    # The same keys with the same types, and the same tensors, names, shapes and types, in the same order.
    ours, ref = gguf.GGUFReader(str(g)), gguf.GGUFReader(str(tiny_imatrices["gguf"]))
    assert [(k, [t.name for t in f.types]) for k, f in ours.fields.items()] == \
           [(k, [t.name for t in f.types]) for k, f in ref.fields.items()]
    assert [(t.name, [int(x) for x in t.shape], t.tensor_type.name) for t in ours.tensors] == \
           [(t.name, [int(x) for x in t.shape], t.tensor_type.name) for t in ref.tensors]
    # The legacy trailer: chunk count and the dataset as given.
    assert read_dat_imatrix(d)["chunk_count"] == CHUNKS
    assert read_dat_imatrix(d)["datasets"] == [str(wiki_piece)]


# (d) the values: lowbit's forward against ggml's.
def relative_differences(ours, ref):
    """Per entry ||ours - ref|| / ||ref|| of the importance vectors, and the largest over one channel."""
    per_entry, per_channel = {}, 0.0
    for name, e in ref["entries"].items():
        a, b = ours["entries"][name]["importance"].astype(np.float64), e["importance"].astype(np.float64)
        per_entry[name] = float(np.linalg.norm(a - b) / np.linalg.norm(b))
        per_channel = max(per_channel, float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-30))))
    return per_entry, per_channel


@pytest.mark.parametrize("model", ["tiny-llama", "smollm2"])
def test_collected_values_match_llama_imatrix(model, request, wiki_piece, lowbit, tmp_path):
    if model == "tiny-llama":
        chunks = CHUNKS
        ours_file, ref_file = request.getfixturevalue("our_tiny_imatrices")["gguf"], \
            request.getfixturevalue("tiny_imatrices")["gguf"]
    else:
        chunks = SMOL_CHUNKS
        ref_file, ours_file = request.getfixturevalue("smol_imatrix"), tmp_path / "ours.imatrix.gguf"
        lowbit("imatrix", request.getfixturevalue("smollm2"), "--calib", wiki_piece, "--seq-len", CTX, "--samples",
               chunks, "--process-output", "-o", ours_file, "--progress", "off")
    ours, ref = dump(ours_file), dump(ref_file)
    # Same entries (a tied head has none), the same tokens counted, the same chunking.
    assert ours["entries"].keys() == ref["entries"].keys()
    for name, e in ref["entries"].items():
        assert ours["entries"][name]["counts"] == e["counts"] == [chunks * CTX], name
    assert (ours["chunk_count"], ours["chunk_size"], ours["datasets"]) == (chunks, CTX, ref["datasets"])
    per_entry, per_channel = relative_differences(ours, ref)
    worst = max(per_entry, key=per_entry.get)
    print(f"\n{model}: {len(per_entry)} entries, relative L2 difference median "
          f"{np.median(list(per_entry.values())):.2e}, largest {per_entry[worst]:.2e} ({worst}); "
          f"largest on one channel {per_channel:.2e}")
    # Both sides square float32 activations of the same weights; they part only by rounding: ggml
    # rounds each Linear's input to BF16 and keeps K and V in an F16 cache, lowbit rounds the
    # inputs alike but keeps K and V in float32, and the sums run in other orders. Measured: see
    # docs/gguf.md (at most 4.5e-3 per entry); 1e-2 is about twice that.
    assert per_entry[worst] < 1e-2, (worst, per_entry[worst])
