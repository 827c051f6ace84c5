// bench_quantize: round-to-nearest throughput and peak memory of `lowbit quantize`
// on a synthetic Llama-shaped model of >= 1 GB (BF16). Prints input MB/s and the
// child's peak RSS (from wait4), and the RSS as a share of the model size, for one
// scheme or, with --scheme all, for every scheme with its ratio to W4A16.
//
//   build/bench_quantize [--gb 1.2] [--scheme W4A16|all] [--threads 2] [--dir /tmp/lowbit-bench]
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "tiny_model.h"

namespace fs = std::filesystem;

static uint64_t dir_bytes(const fs::path& d) {
  uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(d))
    if (e.path().extension() == ".safetensors") n += e.file_size();
  return n;
}

int main(int argc, char** argv) {
  double gb = 1.2;
  std::string scheme = "W4A16", threads = "0", dir = "/tmp/lowbit-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--gb") gb = std::stod(argv[i + 1]);
    else if (k == "--scheme") scheme = argv[i + 1];
    else if (k == "--threads") threads = argv[i + 1];
    else if (k == "--dir") dir = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: bench_quantize [--gb 1.2] [--scheme W4A16] [--threads N] [--dir DIR]\n");
      return 2;
    }
  }
  lowbit::fixtures::TinyModelSpec s;
  s.arch = "llama";
  s.hidden = 2048;
  s.intermediate = 5632;
  s.heads = 32;
  s.kv_heads = 4;
  s.vocab = 32000;
  s.shards = 2;
  const double layer_bytes = 2.0 * (2048.0 * 2048 * 2 + 2048.0 * 256 * 2 + 3 * 2048.0 * 5632);
  const double embed_bytes = 2.0 * 2 * 32000 * 2048;
  s.layers = std::max<int64_t>(1, int64_t((gb * 1e9 - embed_bytes) / layer_bytes + 0.999));
  fs::path model = fs::path(dir) / "model", out = fs::path(dir) / "out";
  fs::create_directories(dir);
  if (!fs::exists(model / "config.json")) {
    std::fprintf(stderr, "generating a %ld-layer synthetic Llama in %s ...\n", long(s.layers), model.c_str());
    lowbit::fixtures::write_tiny_model(model, s);
  }
  const uint64_t in_bytes = dir_bytes(model);
  // Warm the page cache as a second run would find it (llama-quantize is measured the same way).
  for (const auto& e : fs::directory_iterator(model)) {
    FILE* f = std::fopen(e.path().c_str(), "rb");
    std::vector<char> buf(1 << 20);
    while (f && std::fread(buf.data(), 1, buf.size(), f) > 0) {
    }
    if (f) std::fclose(f);
  }
  auto run_one = [&](const std::string& sch) -> double {
    fs::remove_all(out);
    auto t0 = std::chrono::steady_clock::now();
    pid_t pid = fork();
    if (pid == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      execl(LOWBIT_BINARY, LOWBIT_BINARY, "quantize", model.c_str(), "-o", out.c_str(), "--scheme", sch.c_str(),
            "--ignore", "lm_head", "--threads", threads.c_str(), "--progress", "off", (char*)nullptr);
      _exit(127);
    }
    int status = 0;
    struct rusage ru {};
    wait4(pid, &status, 0, &ru);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "lowbit quantize --scheme %s failed (status %d)\n", sch.c_str(), status);
      std::exit(1);
    }
    const double mb = double(in_bytes) / 1e6, rss_mb = double(ru.ru_maxrss) / 1024.0 * 1.048576;
    std::printf("bench_quantize scheme=%s threads=%s input=%.0f MB output=%.0f MB time=%.2f s throughput=%.0f MB/s "
                "peak_rss=%.0f MB (%.1f%% of model)\n",
                sch.c_str(), threads.c_str(), mb, double(dir_bytes(out)) / 1e6, secs, mb / secs, rss_mb,
                100.0 * rss_mb / mb);
    std::fflush(stdout);
    return mb / secs;
  };
  if (scheme != "all") {
    double rate = run_one(scheme);
    std::printf("reference (quoted in the issue, not measured here): llama-quantize Q4_0 ~360 MB/s on 2 cores -> "
                "ratio %.2f\n", rate / 360.0);
    return 0;
  }
  const double base = run_one("W4A16");
  for (const char* sch : {"W4A16_ASYM", "W8A16", "W8A8", "FP8_DYNAMIC", "FP8_BLOCK", "MXFP8A16", "MXFP4A16",
                          "NVFP4A16"}) {
    double rate = run_one(sch);
    std::printf("  %-12s %.2fx the W4A16 rate\n", sch, rate / base);
  }
  return 0;
}
