#include "nodes/engine_version_check.h"

#include "nodes/node_probe.h"

namespace bcd::nodes {

EngineVersionCheck::EngineVersionCheck(QObject* parent)
    : QObject(parent), process_(this), timeout_(this) {
    timeout_.setSingleShot(true);
    connect(&process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
        if (e == QProcess::FailedToStart)
            finish({},
                   QStringLiteral("%1 does not start: %2").arg(engine_, process_.errorString()));
    });
    connect(&process_, &QProcess::finished, this, [this](int exitCode, QProcess::ExitStatus) {
        const QString v = parseEngineVersion(QString::fromUtf8(process_.readAllStandardOutput()));
        finish(v, v.isEmpty() ? QStringLiteral("%1 --version printed no version (exit %2)")
                                    .arg(engine_)
                                    .arg(exitCode)
                              : QString());
    });
    connect(&timeout_, &QTimer::timeout, this, [this] {
        const int ms = timeout_.interval();
        finish({}, QStringLiteral("%1 --version did not finish within %2 s")
                       .arg(engine_)
                       .arg(ms / 1000.0));
        process_.kill(); // its finished() comes later and is ignored
    });
}

EngineVersionCheck::~EngineVersionCheck() {
    process_.disconnect(this);
    if (process_.state() != QProcess::NotRunning) process_.kill();
}

void EngineVersionCheck::start(const QString& enginePath, int timeoutMs) {
    engine_ = enginePath;
    done_ = false;
    version_.clear();
    note_.clear();
    timeout_.start(timeoutMs);
    process_.start(enginePath, {QStringLiteral("--version")});
}

void EngineVersionCheck::finish(const QString& version, const QString& note) {
    if (done_) return;
    done_ = true;
    timeout_.stop();
    version_ = version;
    note_ = note;
    emit finished(version_, note_);
}

} // namespace bcd::nodes
