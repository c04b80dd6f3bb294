#pragma once
// The engine's side of a run folder, as the workbench reads it: status.json and engine.err
// (the engine's stderr, redirected by the launcher), and the final state they imply.

#include <QByteArray>
#include <QString>
#include <optional>

namespace bcd::launch {

struct StatusFile {
    bool valid = false;
    QString state; // running | finished | failed | cancelled
    QString message;
    qint64 pid = 0;
    qint64 step = 0;
    qint64 steps = 0;
};

StatusFile parseStatusFile(const QByteArray& json);

struct FinalState {
    QString status; // finished | failed | cancelled
    QString message;
};

// The state of a run whose process (or job) is gone: status.json's when final; "cancelled" when
// the workbench had to kill it, or when it died of the workbench's SIGTERM before it could write
// a status (a cancel that lands while the engine starts); else "failed", with the engine's last
// stderr line when there is one. A scheduler's final job state (Slurm's) says what the engine
// cannot: a job ended by its time limit, its node, its memory limit (TIMEOUT, NODE_FAIL,
// OUT_OF_MEMORY, ...) failed, whatever the engine wrote as it was stopped; one cancelled while
// queued never wrote a status.
FinalState finalState(const std::optional<QByteArray>& statusJson,
                      const std::optional<QByteArray>& engineErr, bool killedAfterGrace,
                      bool terminatedByUs = false, const QString& jobState = {},
                      const QString& jobReason = {});

// The last non-empty line of a text.
QString lastLine(const QByteArray& text);

// This machine's engine: $BCD_TRAIN, else bcd-train next to the running program, else the build
// tree's engine/bcd-train, else "bcd-train" (PATH).
QString findLocalEngine();

} // namespace bcd::launch
