#pragma once
// Run states (docs/workbench.md, "Store schema"). Header-only: the launcher SDK reads them from
// status.json without linking the store.

#include <QString>
#include <QStringList>

namespace bcd::store::status {

inline const QString kStarting = QStringLiteral("starting"); // created, the engine not confirmed
inline const QString kQueued = QStringLiteral("queued");     // submitted, waiting in a queue
inline const QString kRunning = QStringLiteral("running");
inline const QString kFinished = QStringLiteral("finished");
inline const QString kFailed = QStringLiteral("failed");
inline const QString kCancelled = QStringLiteral("cancelled");

inline bool isTerminal(const QString& s) {
    return s == kFinished || s == kFailed || s == kCancelled;
}
inline bool isValid(const QString& s) {
    return s == kStarting || s == kQueued || s == kRunning || isTerminal(s);
}

// An archived run carries this tag: lists hide it (Runs page, `run list`) until asked to show
// archived runs; nothing else changes (its points, files and Compare stay).
inline const QString kArchivedTag = QStringLiteral("archived");
inline bool isArchived(const QStringList& tags) {
    return tags.contains(kArchivedTag);
}

} // namespace bcd::store::status
