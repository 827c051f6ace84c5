// What a calibrated run has finished, kept on disk layer by layer so that an interrupted run
// (Ctrl-C, a kill, a full disk, a crash) continues from its last finished layer with
// --resume and writes the same bytes as one uninterrupted run.
//
// The folder (<output>.lowbit-resume, beside the output) holds:
//   job.json                 what the run is: lowbit version, the model's config, shards and
//                            tokenizer files, the recipe, the method, the calibration source;
//                            a resume must match it exactly
//   calibration.safetensors  the calibration samples' token ids (so self:N is not generated
//                            again) and what recipe.yaml records about them
//   layer-<i>.safetensors    layer i's quantized Linears, the dense tensors AWQ changed and
//                            AWQ's choices
//   hidden-<i>.safetensors   the samples' hidden states after layer i (layer i+1's input)
//   done.json                how many layers are finished: written last, by rename, so a kill
//                            at any moment leaves the old state or the new one, never a mix
// Removed once the checkpoint is in place.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/model_dir.h"
#include "pipeline/awq_layer.h"
#include "pipeline/calibration_data.h"
#include "pipeline/weight_quantizer.h"
#include "quant/recipe.h"

namespace lowbit::pipeline {

// One finished layer.
struct LayerResult {
  std::map<std::string, QuantizedModule> modules;        // module path -> its quantized weight
  std::map<std::string, std::vector<uint8_t>> dense;     // tensor name -> bytes AWQ changed
  std::vector<AwqMappingResult> awq;                     // this layer's mappings (no scale vectors)
};

// The identity of a calibrated run: everything its bytes depend on. `calib_source` describes
// the data before it is read ({"file": sha256, ...} or {"self": N, ...}).
nlohmann::json resume_job(const io::ModelDir& in, const quant::Recipe& recipe, const std::string& method,
                          const nlohmann::json& calib_source);

// <output>.lowbit-resume
std::filesystem::path resume_dir_for(const std::filesystem::path& output);

class ResumeState {
 public:
  // resume: continue the state in `dir` (UserError if it belongs to another job; a fresh start
  // when there is none). !resume: UserError if `dir` holds an unfinished run (it is never
  // silently discarded), else a fresh state.
  ResumeState(std::filesystem::path dir, nlohmann::json job, bool resume);

  const std::filesystem::path& dir() const { return dir_; }
  int layers_done() const { return layers_done_; }
  bool has_calibration() const;

  void save_calibration(const CalibrationSet& set, const nlohmann::json& record);
  CalibrationSet load_calibration(nlohmann::json& record) const;

  // Layer `layer` finished (layers in order, from layers_done()): its results and the hidden
  // states it produced. Atomic: on return the state counts it.
  void save_layer(int layer, const LayerResult& result, const std::vector<std::vector<uint16_t>>& hidden,
                  int64_t hidden_size);
  LayerResult load_layer(int layer) const;
  std::vector<std::vector<uint16_t>> load_hidden(int layer, int64_t hidden_size) const;

  // The run is complete: the folder goes.
  void remove();

 private:
  std::filesystem::path dir_;
  int layers_done_ = 0;
};

}  // namespace lowbit::pipeline
