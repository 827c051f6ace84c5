#include "core/interrupt.h"

#include <csignal>

#include "core/error.h"

namespace lowbit {
namespace {
volatile std::sig_atomic_t g_flag = 0;
extern "C" void on_signal(int) { g_flag = 1; }
}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A file-size limit must surface as a write error (EFBIG), not kill us mid-write.
  std::signal(SIGXFSZ, SIG_IGN);
}

bool interrupted() { return g_flag != 0; }

void request_interrupt() { g_flag = 1; }

void check_interrupted() {
  if (g_flag) throw Interrupted();
}

}  // namespace lowbit
