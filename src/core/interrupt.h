// SIGINT/SIGTERM set a flag; long loops call check_interrupted() between units of
// work so that output is cleaned up by normal unwinding, never left half-written.
#pragma once

namespace lowbit {

void install_interrupt_handlers();
bool interrupted();
void check_interrupted();  // throws Interrupted
void request_interrupt();  // as if SIGINT arrived (tests)

}  // namespace lowbit
