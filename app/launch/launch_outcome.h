#pragma once
// Errors as values across the launcher plugin boundary (docs/workbench.md, "The launcher SDK").
// A plugin is a shared object built apart from the workbench; an exception thrown in it and
// caught in the host depends on both sides agreeing on type identity and unwinding, and a plugin
// that lets one escape takes the workbench down with it. So every call into a plugin returns an
// Outcome: the value, or a LaunchFailure that says what kind of failure it was. Plugins write
// their bodies with exceptions where that reads better and wrap them in guarded(), which is
// inline and so runs inside the plugin: nothing is thrown past it.

#include "nodes/ssh_session.h"

#include <QString>
#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

namespace bcd::launch {

// A launch that cannot happen; badInput: the config or the request is wrong (CLI exit 2).
// Thrown inside plugins and the host's own helpers; it never crosses the plugin boundary.
class LaunchError : public std::runtime_error {
public:
    LaunchError(const QString& message, bool badInput = false)
        : std::runtime_error(message.toStdString()), badInput_(badInput) {}
    bool badInput() const { return badInput_; }

private:
    bool badInput_;
};

struct LaunchFailure {
    enum class Kind {
        BadInput,   // the config, the request or a node setting is wrong: a person must change it
        Connection, // the node could not be reached or refused the login (SSH); retried later
        Failed,     // the node answered, but what was asked did not happen
    };
    Kind kind = Kind::Failed;
    QString message;
    // Set when an SSH failure caused it: the host tells an unknown or changed host key (a
    // person's decision) from other connection trouble, and shows the key.
    std::optional<nodes::SshError::Kind> ssh;
    nodes::HostKey hostKey;

    bool badInput() const { return kind == Kind::BadInput; }
    bool hostKeyRefused() const {
        return ssh && (*ssh == nodes::SshError::Kind::HostKeyUnknown ||
                       *ssh == nodes::SshError::Kind::HostKeyChanged);
    }
    // The host's exception for this failure: nodes::SshError when SSH caused it, else
    // LaunchError (for callers that report failures by exception, as the CLI does).
    [[noreturn]] void raise() const {
        if (ssh) throw nodes::SshError(*ssh, message, hostKey);
        throw LaunchError(message, kind == Kind::BadInput);
    }
};

// The value of a plugin call, or why there is none.
template <class T> class Outcome {
public:
    Outcome(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Outcome(LaunchFailure failure) : v_(std::in_place_index<1>, std::move(failure)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    const LaunchFailure& failure() const { return std::get<1>(v_); }
    // The value, or the failure raised as the host's exception (LaunchFailure::raise).
    T take() {
        if (!ok()) failure().raise();
        return std::move(value());
    }

private:
    std::variant<T, LaunchFailure> v_;
};

struct Done {}; // the value of a call that returns nothing

inline LaunchFailure failureOf(const std::exception& e) {
    if (const auto* l = dynamic_cast<const LaunchError*>(&e))
        return {l->badInput() ? LaunchFailure::Kind::BadInput : LaunchFailure::Kind::Failed,
                QString::fromUtf8(l->what()),
                std::nullopt,
                {}};
    if (const auto* s = dynamic_cast<const nodes::SshError*>(&e)) {
        const bool connection = s->kind() == nodes::SshError::Kind::Connect ||
                                s->kind() == nodes::SshError::Kind::Timeout ||
                                s->kind() == nodes::SshError::Kind::Auth;
        return {connection ? LaunchFailure::Kind::Connection : LaunchFailure::Kind::Failed,
                QString::fromUtf8(s->what()), s->kind(), s->hostKey()};
    }
    return {LaunchFailure::Kind::Failed, QString::fromUtf8(e.what()), std::nullopt, {}};
}

// Runs f, a plugin's body that may throw, and turns what it throws into a LaunchFailure. Inline:
// it is compiled into the plugin, so the exception is caught on the plugin's side.
template <class F> auto guarded(F&& f) -> Outcome<std::invoke_result_t<F>> {
    try {
        return std::forward<F>(f)();
    } catch (const std::exception& e) {
        return failureOf(e);
    } catch (...) {
        return LaunchFailure{LaunchFailure::Kind::Failed,
                             QStringLiteral("unknown failure inside a launcher plugin"),
                             std::nullopt,
                             {}};
    }
}

} // namespace bcd::launch
