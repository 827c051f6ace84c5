// libFuzzer: a GGUF file read as a model, on arbitrary bytes: the header, then the Hugging Face
// model rebuilt from its metadata (config, byte-level BPE tokenizer, chat template, RoPE scaling),
// the architecture, every parameter located and decoded, the tokenizer loaded and run. Either
// all of it works or it raises UserError; never a crash, a hang or a read outside the file.
// Seed: fuzz/corpus/gguf_model/ (scripts/make-gguf-model-seed.py writes a 1-layer model).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "export/gguf_model.h"
#include "io/gguf.h"
#include "model/architecture.h"
#include "tokenizer/tokenizer.h"

using namespace lowbit;

namespace {

// GgufFile maps a path: each input goes to one scratch file of this process.
std::string scratch_path() {
  static const std::string p = "/tmp/fuzz_gguf_model." + std::to_string(::getpid()) + ".gguf";
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = scratch_path();
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    if (size && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
  } else {
    std::abort();
  }
  try {
    const io::GgufFile f(path);
    const exporter::GgufHfModel m = exporter::gguf_hf_model(f, "float32");
    const model::Architecture arch = model::architecture_from_config(m.config, "fuzz (config from its metadata)");
    for (const exporter::GgufParam& p : exporter::gguf_params(f, m.gguf_arch, arch)) {
      const std::vector<float> v = exporter::gguf_param_f32(f, p);
      size_t n = 1;
      for (int64_t d : p.shape) n *= size_t(d);
      if (v.size() != n) std::abort();
    }
    std::string text;
    try {
      text = m.tokenizer.dump();
    } catch (const nlohmann::json::exception&) {  // a token that is not UTF-8: LoadedModel's UserError
      throw UserError("not UTF-8");
    }
    auto tok = tokenizer::Tokenizer::from_json_text(text, "fuzz (its tokenizer)");
    for (int32_t id : tok.encode("the the"))
      if (id < 0 || size_t(id) >= tok.vocab_size()) std::abort();
  } catch (const UserError&) {
  }
  std::remove(path.c_str());
  return 0;
}
