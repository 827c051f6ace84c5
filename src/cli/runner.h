#pragma once
#include <functional>
#include <string>

namespace lowbit::cli {
void register_runner(const std::string& name, std::function<int()> fn);
}
