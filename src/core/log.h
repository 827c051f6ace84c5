// Minimal leveled logging to stderr. Warnings are kept so commands can summarise them.
#pragma once
#include <string>

namespace lowbit::log {

void info(const std::string& msg);
void warn(const std::string& msg);
void set_quiet(bool quiet);
int warning_count();

}  // namespace lowbit::log
