#include "bcd/test_hook.h"

#include <csignal>
#include <cstdlib>
#include <string>

namespace bcd::test_hook {

namespace {

struct StopAt {
    bool armed = false;
    std::string phase;
    long step = -1;
};

// Read once, at the first stop point. A value without "@<step>" never matches: the hook is for
// tests, which name both.
const StopAt& stop_at() {
    static const StopAt s = [] {
        StopAt out;
        const char* v = std::getenv("BCD_TEST_STOP_AT");
        if (!v) return out;
        const std::string text(v);
        const auto at = text.rfind('@');
        if (at == std::string::npos || at == 0) return out;
        char* end = nullptr;
        const long step = std::strtol(text.c_str() + at + 1, &end, 10);
        if (!end || *end != '\0' || step < 0) return out;
        out.phase = text.substr(0, at);
        out.step = step;
        out.armed = true;
        return out;
    }();
    return s;
}

long current_step = -1; // the checkpoint being written (rank 0 writes them, on one thread)

[[noreturn]] void kill_self() {
    std::raise(SIGKILL);
    std::abort(); // not reached
}

} // namespace

bool armed() {
    return stop_at().armed;
}

CheckpointScope::CheckpointScope(long step) : previous_(current_step) {
    current_step = step;
}

CheckpointScope::~CheckpointScope() {
    current_step = previous_;
}

void stop_point(std::string_view phase) {
    const StopAt& s = stop_at();
    if (s.armed && current_step == s.step && phase == s.phase) kill_self();
}

void stop_point(std::string_view action, const std::filesystem::path& file) {
    const StopAt& s = stop_at();
    if (!s.armed || current_step != s.step) return;
    if (s.phase == std::string(action) + ':' + file.filename().string()) kill_self();
}

} // namespace bcd::test_hook
