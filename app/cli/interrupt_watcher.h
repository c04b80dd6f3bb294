#pragma once
// SIGINT/SIGTERM while the CLI waits on its event loop (following a run: stop following, the run
// goes on; sampling: stop the engine where it runs). A self-pipe turns the signal into an event on
// the loop; the previous handlers come back when the watcher goes.

#include <QObject>
#include <QSocketNotifier>
#include <csignal>
#include <functional>
#include <sys/socket.h>
#include <unistd.h>

namespace bcd::cli {

class InterruptWatcher : public QObject {
public:
    explicit InterruptWatcher(std::function<void()> onInterrupt)
        : onInterrupt_(std::move(onInterrupt)) {
        if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_) != 0) return;
        notifier_ = new QSocketNotifier(fds_[0], QSocketNotifier::Read, this);
        connect(notifier_, &QSocketNotifier::activated, this, [this] {
            char c = 0;
            [[maybe_unused]] const auto n = ::read(fds_[0], &c, 1);
            onInterrupt_();
        });
        struct sigaction sa {};
        sa.sa_handler = &InterruptWatcher::handler;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &oldInt_);
        sigaction(SIGTERM, &sa, &oldTerm_);
    }
    ~InterruptWatcher() override {
        sigaction(SIGINT, &oldInt_, nullptr);
        sigaction(SIGTERM, &oldTerm_, nullptr);
        if (fds_[0] >= 0) {
            ::close(fds_[0]);
            ::close(fds_[1]);
        }
    }

private:
    static void handler(int) {
        const char c = 1;
        [[maybe_unused]] const auto n = ::write(fds_[1], &c, 1);
    }
    static inline int fds_[2] = {-1, -1};
    std::function<void()> onInterrupt_;
    QSocketNotifier* notifier_ = nullptr;
    struct sigaction oldInt_ {
    }, oldTerm_{};
};

} // namespace bcd::cli
