#include "pipeline/calibration_data.h"

#include <nlohmann/json.hpp>
#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <sstream>

#include "chat/chat_template.h"
#include "core/error.h"
#include "core/log.h"
#include "engine/generate.h"
#include "export/load_model.h"
#include "tokenizer/special_tokens.h"
#include "io/file_util.h"

namespace lowbit::pipeline {

namespace {

// Fisher-Yates with a fixed generator: the same samples for the same seed on every platform
// (std::shuffle's algorithm is the library's choice).
template <class T>
void shuffle(std::vector<T>& v, uint64_t seed) {
  std::mt19937_64 g(seed);
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[size_t(g() % i)]);
}

std::vector<std::vector<int32_t>> text_windows(const std::string& text, const tokenizer::Tokenizer& tok, int32_t bos,
                                               int64_t seq_len) {
  const std::vector<int32_t> ids = tok.encode(text);
  const int64_t body = bos >= 0 ? seq_len - 1 : seq_len;  // BOS takes a position of each window
  std::vector<std::vector<int32_t>> out;
  for (int64_t start = 0; start + body <= int64_t(ids.size()); start += body) {
    std::vector<int32_t> w;
    if (bos >= 0) w.push_back(bos);
    w.insert(w.end(), ids.begin() + start, ids.begin() + start + body);
    out.push_back(std::move(w));
  }
  return out;
}

struct Documents {
  std::vector<std::vector<int32_t>> samples;
  int64_t conversations = 0;  // of them rendered by the chat template
  std::string template_label;
};

Documents jsonl_documents(const std::string& text, const std::string& label, const tokenizer::Tokenizer& tok,
                          int32_t bos, int64_t seq_len, const std::filesystem::path& model_dir) {
  Documents out;
  std::optional<chat::ChatTemplate> chat;  // loaded at the first chat line
  std::istringstream in(text);
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = label + ":" + std::to_string(n);
    nlohmann::ordered_json j;
    try {
      j = nlohmann::ordered_json::parse(line);
    } catch (const nlohmann::ordered_json::exception& e) {
      throw UserError(where + ": not valid JSON: " + e.what());
    }
    if (!j.is_object()) throw UserError(where + ": expected a JSON object per line");
    std::vector<int32_t> ids;
    if (int(j.contains("text")) + int(j.contains("messages")) + int(j.contains("input_ids")) > 1)
      throw UserError(where + ": has more than one of \"text\", \"messages\" and \"input_ids\"; keep one");
    if (j.contains("input_ids")) {
      // Pre-tokenized, as a tokenized Hugging Face dataset row: used as is (no BOS added), so two
      // tools can be fed the very same tokens.
      const auto& a = j["input_ids"];
      if (!a.is_array()) throw UserError(where + ": \"input_ids\" must be a list of token ids");
      for (const auto& v : a) {
        if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
          throw UserError(where + ": \"input_ids\" holds " + v.dump() + ", not a token id (an integer >= 0)");
        ids.push_back(int32_t(v.get<int64_t>()));
      }
    } else if (j.contains("messages")) {
      if (!chat) {
        chat = chat::ChatTemplate::from_model_dir(model_dir);
        if (!chat)
          throw UserError(where + ": chat \"messages\" need the model's chat template, and " + model_dir.string() +
                          " has none (no chat_template.jinja, no chat_template in tokenizer_config.json)");
        out.template_label = chat->label();
      }
      std::string rendered;
      try {
        rendered = chat::render_conversation(*chat, j, false);
      } catch (const UserError& e) {
        throw UserError(where + ": " + e.what());
      }
      // As apply_chat_template(tokenize=True): the rendered text with add_special_tokens=False,
      // so the BOS is the template's own (no second one).
      ids = tok.encode(rendered);
      ++out.conversations;
    } else {
      if (!j.contains("text") || !j["text"].is_string())
        throw UserError(where + ": no \"text\" string field, chat \"messages\" list or \"input_ids\" list");
      if (bos >= 0) ids.push_back(bos);
      const auto t = tok.encode(j["text"].get<std::string>());
      ids.insert(ids.end(), t.begin(), t.end());
    }
    if (int64_t(ids.size()) > seq_len) ids.resize(size_t(seq_len));  // truncated, never left to grow
    if (int64_t(ids.size()) >= 2) out.samples.push_back(std::move(ids));
  }
  return out;
}

}  // namespace

CalibrationSet load_calibration(const CalibrationOptions& o, const tokenizer::Tokenizer& tok, int32_t bos) {
  const std::string label = o.file.string();
  if (o.samples < 1) throw UserError("--samples must be at least 1");
  if (o.seq_len < 16) throw UserError("--seq-len must be at least 16");
  const std::string text = io::read_text_file(o.file, size_t(4) << 30);
  if (text.empty()) throw UserError(label + ": empty calibration file");
  const bool jsonl = o.file.extension() == ".jsonl";
  CalibrationSet set;
  Documents docs;
  if (jsonl) docs = jsonl_documents(text, label, tok, bos, o.seq_len, o.model_dir);
  std::vector<std::vector<int32_t>> candidates = jsonl ? std::move(docs.samples) : text_windows(text, tok, bos, o.seq_len);
  if (candidates.empty())
    throw UserError(label + ": no calibration sample (" +
                    (jsonl ? std::string("no document with text") : "fewer tokens than --seq-len " + std::to_string(o.seq_len)) +
                    ")");
  set.candidates = int64_t(candidates.size());
  shuffle(candidates, o.seed);
  if (int64_t(candidates.size()) > o.samples) candidates.resize(size_t(o.samples));
  set.samples = std::move(candidates);
  for (const auto& s : set.samples) set.tokens += int64_t(s.size());
  set.sha256 = io::file_sha256(o.file);
  std::string kind = jsonl ? "JSONL documents" : "plain text";
  if (docs.conversations > 0)
    kind += " (" + std::to_string(docs.conversations) + " chat conversations through " + docs.template_label + ")";
  set.description = kind + ", " + std::to_string(set.samples.size()) +
                    " samples, " + std::to_string(set.tokens) + " tokens, drawn from " + std::to_string(set.candidates) +
                    (jsonl ? " documents" : " windows of " + std::to_string(o.seq_len)) + " (seed " +
                    std::to_string(o.seed) + ")";
  return set;
}

int64_t self_calibration_count(const std::string& spec) {
  if (spec.rfind("self:", 0) != 0) return 0;
  const std::string n = spec.substr(5);
  if (n.empty() || n.size() > 9 || n.find_first_not_of("0123456789") != std::string::npos || std::stoll(n) < 1)
    throw UserError("--calib " + spec + ": expected self:N with N >= 1 samples, e.g. self:128");
  return std::stoll(n);
}

CalibrationSet generate_calibration(const std::filesystem::path& model_dir, int64_t samples, int64_t seq_len,
                                    uint64_t seed, ProgressMode progress) {
  if (samples < 1) throw UserError("self:N needs N >= 1");
  if (seq_len < 16) throw UserError("--seq-len must be at least 16");
  const auto m = exporter::load_model(model_dir);
  const auto tok = m->tokenizer();
  const int32_t start = tokenizer::start_token(m->token_files(), tok);
  if (start < 0)
    throw UserError("--calib self:N: " + model_dir.string() +
                    " declares no start token (no bos_token in tokenizer_config.json, no bos_token_id in config.json) "
                    "to generate from; give a --calib file instead");
  const auto stop = tokenizer::eos_ids(m->token_files());
  CalibrationSet set;
  Progress bar("self-calibration", uint64_t(samples), uint64_t(samples * (seq_len - 1)), progress, "samples", "tokens");
  int64_t documents = 0;
  // Batches of samples decode together: one [batch, hidden] GEMM per Linear and step instead of
  // `batch` matrix-vector products, so the weights are read once per step for the whole batch.
  constexpr int64_t kBatch = 16;
  for (int64_t i0 = 0; i0 < samples; i0 += kBatch) {
    std::vector<uint64_t> seeds;
    for (int64_t i = i0; i < std::min(samples, i0 + kBatch); ++i) {
      std::seed_seq seq{uint32_t(seed), uint32_t(seed >> 32), uint32_t(i), uint32_t(uint64_t(i) >> 32)};
      uint32_t words[2];
      seq.generate(words, words + 2);  // seed_seq's mixing is specified by the standard
      seeds.push_back((uint64_t(words[0]) << 32) | words[1]);
    }
    const uint64_t rows = seeds.size();
    auto batch = engine::sample_sequences(*m->net, start, seq_len, stop, 1.0, seeds, [&] { bar.advance(0, rows); });
    for (auto& ids : batch) {
      documents += int64_t(std::count(ids.begin(), ids.end(), start));
      set.tokens += int64_t(ids.size());
      set.samples.push_back(std::move(ids));
    }
    bar.advance(rows, 0);
  }
  bar.finish();
  // What the model writes, so a user sees whether it is text at all.
  std::vector<int32_t> first;  // ids past the tokenizer (padded vocabularies) have no text
  for (int64_t j = 0; j < std::min<int64_t>(seq_len, 48); ++j)
    if (size_t(set.samples[0][size_t(j)]) < tok.vocab_size()) first.push_back(set.samples[0][size_t(j)]);
  std::string head = tok.decode(first);
  for (char& c : head)
    if (c == '\n') c = ' ';
  log::info("self-calibration: sample 1 begins \"" + head + "\"");
  set.candidates = samples;
  set.description = "generated by the model (temperature 1, from token " + std::to_string(start) + "), " + std::to_string(samples) + " samples, " + std::to_string(set.tokens) +
                    " tokens, " + std::to_string(documents) + " documents (seed " + std::to_string(seed) + ")";
  return set;
}

}  // namespace lowbit::pipeline
