// `lowbit formats`: the table of number formats, and what a scheme does to your numbers.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "algorithms/rtn.h"
#include "quant/presets.h"
#include "quant/schemes.h"
#include "cli/commands.h"
#include "cli/runner.h"
#include "cli/scheme_flags.h"
#include "core/error.h"
#include "numerics/formats.h"
#include "numerics/half.h"

namespace lowbit::cli {

namespace {

std::string num(double v) {
  char buf[32];
  if (v != 0 && (std::fabs(v) >= 1e5 || std::fabs(v) < 1e-3)) std::snprintf(buf, sizeof buf, "%.3g", v);
  else std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

void print_table() {
  std::printf("%-9s %4s %-7s %12s %12s %12s %10s  %-24s %s\n", "format", "bits", "layout", "max", "min normal",
              "min subnorm", "step @1.0", "block/scale", "used for");
  for (const auto& f : all_formats()) {
    std::string layout = f.id == Format::E8M0 ? "E8M0"
                         : f.is_float       ? "E" + std::to_string(f.exp_bits) + "M" + std::to_string(f.man_bits)
                                            : "int";
    std::string step = f.is_float ? num(std::ldexp(1.0, -f.man_bits)) : f.id == Format::E8M0 ? "x2" : "scale";
    std::string block;  // the block formats of the scheme table with this element
    for (const auto& sf : quant::scheme_formats())
      if (sf.type == quant::QType::Float && sf.fixed_group && sf.float_element == f.id)
        block += (block.empty() ? "" : ", ") + std::to_string(sf.fixed_group) + "/" +
                 (sf.scale == quant::ScaleStorage::E8M0 ? "e8m0" : "fp8") + " " + sf.name;
    if (block.empty()) block = "-";
    std::string range = f.is_float || f.id == Format::E8M0 ? num(f.max_finite)
                                                           : "[" + std::to_string(-(1 << (f.bits - 1))) + "," +
                                                                 std::to_string((1 << (f.bits - 1)) - 1) + "]";
    std::printf("%-9s %4d %-7s %12s %12s %12s %10s  %-24s %s\n", f.name, f.bits, layout.c_str(), range.c_str(),
                f.is_float ? num(f.min_normal).c_str() : "-", f.is_float ? num(f.min_subnormal).c_str() : "-",
                step.c_str(), block.c_str(), f.used_for);
  }
  std::printf("\nSchemes (`lowbit quantize --scheme ...`; weights of each targeted Linear):\n%s",
              quant::presets_text().c_str());
}

std::vector<float> parse_values(const std::string& s) {
  std::vector<float> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    float x = std::strtof(item.c_str(), &end);
    if (end == item.c_str() || *end != '\0') throw UserError("--quantize: '" + item + "' is not a number");
    v.push_back(x);
  }
  if (v.empty()) throw UserError("--quantize needs comma-separated values, e.g. 0.12,-0.41,0.93");
  return v;
}

std::string code_text(const QuantizedWeight& q, size_t i) {
  uint8_t c = uint8_t(q.codes[i]);
  char buf[48];
  if (q.element == Format::FP8_E4M3) std::snprintf(buf, sizeof buf, "0x%02X (%g)", c, fp8_e4m3_decode(c));
  else if (q.element == Format::FP4_E2M1) std::snprintf(buf, sizeof buf, "0x%X (%g)", c, fp4_e2m1_decode(c));
  else std::snprintf(buf, sizeof buf, "%d", int(int8_t(c)));
  return buf;
}

int show_quantization(const std::string& values, const SchemeFlags& flags, const std::string& dtype_name_in) {
  const DType dt = dtype_name_in == "bf16" ? DType::BF16 : dtype_name_in == "f16" ? DType::F16 : DType::F32;
  std::vector<float> v = parse_values(values);
  SchemeFlags f = flags;
  // Without a scheme or layout: int4, symmetric, one scale for all the values.
  if (f.scheme.empty() && f.strategy.empty() && f.group_size == 0 && f.block.empty()) f.strategy = "tensor";
  quant::QuantScheme scheme = scheme_from_flags(f, {"Linear"});
  const quant::QuantArgs& a = *scheme.weights;
  std::vector<uint8_t> w(v.size() * dtype_size(dt));
  for (size_t i = 0; i < v.size(); ++i) store_from_f32(w.data(), i, dt, v[i]);
  auto q = algorithms::rtn_quantize(w.data(), dt, 1, int64_t(v.size()), a, "values");
  std::vector<uint8_t> dq(v.size() * dtype_size(q.dense_dtype));
  dequantize(q, dq.data());
  std::printf("scheme: %s (%s)\n", quant::to_json(a).dump().c_str(), quant::compression_format(scheme).c_str());
  for (int64_t s = 0; s < q.scale_rows * q.scale_cols; ++s) {
    std::printf("scale[%ld] = %.9g", long(s), q.scale_at(s));
    if (q.scale_dtype == DType::U8) std::printf(" (e8m0 byte %u)", unsigned(q.scales[size_t(s)]));
    if (q.scale_dtype == DType::F8_E4M3) std::printf(" (fp8 byte 0x%02X)", unsigned(q.scales[size_t(s)]));
    if (!q.zero_points.empty()) std::printf(", zero point %d", int(q.zero_points[size_t(s)]));
    std::printf("\n");
  }
  if (q.global_scale != 0) std::printf("global scale (divisor) = %.9g\n", q.global_scale);
  std::printf("%4s %14s %16s %14s %12s\n", "i", "value", "code", "dequantized", "error");
  double err = 0, norm = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    float x = load_as_f32(w.data(), i, dt), y = load_as_f32(dq.data(), i, q.dense_dtype);
    std::printf("%4zu %14.7g %16s %14.7g %12.4g\n", i, x, code_text(q, i).c_str(), y, double(y) - x);
    err += (double(y) - x) * (double(y) - x);
    norm += double(x) * x;
  }
  std::printf("relative error %.5f, SNR %.2f dB\n", norm > 0 ? std::sqrt(err / norm) : 0.0,
              err > 0 ? 10 * std::log10(norm / err) : INFINITY);
  return 0;
}

}  // namespace

void register_formats(CLI::App& app) {
  static std::string values, dtype = "f32";
  static SchemeFlags flags;
  static bool markdown = false;
  CLI::App* sub = app.add_subcommand("formats", "The number formats lowbit writes, and what a scheme does to values");
  sub->add_option("--quantize", values, "Comma-separated values to quantize as one row of a weight");
  sub->add_option("--dtype", dtype, "Dtype the values are given in (as a model's weights): f32 | bf16 | f16")
      ->check(CLI::IsMember({"f32", "bf16", "f16"}))
      ->capture_default_str();
  sub->add_flag("--markdown", markdown, "Print the scheme table as markdown (the README's table)");
  add_scheme_flags(sub, flags);
  sub->footer(
      "Examples:\n"
      "  lowbit formats\n"
      "  lowbit formats --quantize 0.12,-0.41,0.93,-0.05,0.55,-0.88,0.27,0.02 --restricted-range\n"
      "  lowbit formats --quantize 0.12,-0.41,0.93,-0.05 --format fp8 --strategy tensor\n"
      "Without a scheme the values are quantized to symmetric int4 with one scale.");
  register_runner("formats", [] {
    if (markdown) {
      std::printf("%s", quant::presets_markdown().c_str());
      return 0;
    }
    if (values.empty()) {
      if (flags.any()) throw UserError("scheme flags need --quantize VALUES");
      print_table();
      return 0;
    }
    return show_quantization(values, flags, dtype);
  });
}

}  // namespace lowbit::cli
