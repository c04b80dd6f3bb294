#pragma once
// `bcd-train --version` without waiting: the process runs on its own and the answer comes back
// as a signal on the caller's (the GUI's) thread. The blocking form for the CLI and worker
// threads is localEngineVersion (nodes/local_probe.h); both read the answer with
// parseEngineVersion and word their notes alike.

#include <QObject>
#include <QProcess>
#include <QString>
#include <QTimer>

namespace bcd::nodes {

class EngineVersionCheck : public QObject {
    Q_OBJECT
public:
    explicit EngineVersionCheck(QObject* parent = nullptr);
    ~EngineVersionCheck() override; // kills an engine still running

    // Starts `enginePath --version`; finished() follows once, also when it cannot start or runs
    // past timeoutMs (then it is killed).
    void start(const QString& enginePath, int timeoutMs = 30000);
    bool done() const { return done_; }
    QString version() const { return version_; } // empty: not known (yet, or at all)
    QString note() const { return note_; }       // why there is no version

signals:
    void finished(const QString& version, const QString& note);

private:
    void finish(const QString& version, const QString& note);

    QProcess process_;
    QTimer timeout_;
    QString engine_;
    QString version_;
    QString note_;
    bool done_ = false;
};

} // namespace bcd::nodes
