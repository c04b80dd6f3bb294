#pragma once
// bcd-workbench's headless command line (DESIGN.md §4, docs/workbench.md "CLI"): nodes, runs,
// compare. Exit codes: 0 success (a followed run finished; `run cancel`: the run is over,
// cancelled or finished first); 1 failure (connection,
// authentication, a failed run, the store); 2 bad input or a refusal that needs the user's
// decision (unknown or changed host key); 130 a followed run was cancelled, or following was
// interrupted (the run goes on).

#include "launch/launcher.h"

#include <QStringList>
#include <stdexcept>

namespace bcd::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitCancelled = 130;

// Bad input: one line on stderr, exit 2.
class UsageError : public std::runtime_error {
public:
    explicit UsageError(const QString& message) : std::runtime_error(message.toStdString()) {}
};

// Everything a command needs to know about where it runs.
struct Context {
    QString db;                       // the store file
    QStringList args;                 // the command's arguments (after "node add", "run show", ...)
    launch::LauncherContext launcher; // engine and local run root (version filled on demand)
};

int main(int argc, char** argv); // the whole program (also the future GUI's entry)

int cmdNode(const QString& verb, Context& ctx);
int cmdRun(const QString& verb, Context& ctx);
int cmdFollow(const QString& verb, Context& ctx); // run launch | attach | cancel
int cmdCompare(Context& ctx);
int cmdSample(const QString& verb, Context& ctx); // run checkpoints | sample

// Printing: stdout for results, stderr for progress and errors (one line each).
void out(const QString& line);
void err(const QString& line);

// A run id argument; throws UsageError.
qint64 parseRunId(const QString& text);

} // namespace bcd::cli
