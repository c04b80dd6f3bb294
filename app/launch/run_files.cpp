#include "launch/run_files.h"

#include "store/run_status.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>

namespace bcd::launch {

StatusFile parseStatusFile(const QByteArray& json) {
    StatusFile s;
    const QJsonDocument doc = QJsonDocument::fromJson(json);
    if (!doc.isObject()) return s;
    const QJsonObject o = doc.object();
    s.state = o.value(QLatin1String("state")).toString();
    s.valid = store::status::isValid(s.state);
    s.message = o.value(QLatin1String("message")).toString();
    s.pid = o.value(QLatin1String("pid")).toInteger();
    s.step = o.value(QLatin1String("step")).toInteger();
    s.steps = o.value(QLatin1String("steps")).toInteger();
    return s;
}

QString lastLine(const QByteArray& text) {
    const QList<QByteArray> lines = text.split('\n');
    for (auto it = lines.rbegin(); it != lines.rend(); ++it)
        if (!it->trimmed().isEmpty()) return QString::fromUtf8(it->trimmed());
    return {};
}

namespace {

// What a scheduler's final job state says that the engine's status cannot; empty when nothing.
QString jobEndedBy(const QString& jobState) {
    if (jobState == QLatin1String("TIMEOUT")) return QStringLiteral("reached its time limit");
    if (jobState == QLatin1String("NODE_FAIL")) return QStringLiteral("lost its node");
    if (jobState == QLatin1String("OUT_OF_MEMORY"))
        return QStringLiteral("ran out of memory (ask for more memory per task)");
    if (jobState == QLatin1String("BOOT_FAIL")) return QStringLiteral("could not boot its node");
    if (jobState == QLatin1String("DEADLINE")) return QStringLiteral("passed its deadline");
    if (jobState == QLatin1String("PREEMPTED")) return QStringLiteral("was preempted");
    return {};
}

} // namespace

FinalState finalState(const std::optional<QByteArray>& statusJson,
                      const std::optional<QByteArray>& engineErr, bool killedAfterGrace,
                      bool terminatedByUs, const QString& jobState, const QString& jobReason) {
    std::optional<FinalState> engine;
    if (statusJson) {
        const StatusFile s = parseStatusFile(*statusJson);
        if (s.valid && store::status::isTerminal(s.state)) engine = FinalState{s.state, s.message};
    }
    if (engine && engine->status == store::status::kFinished) return *engine;
    const QString endedBy = jobEndedBy(jobState);
    if (!endedBy.isEmpty()) {
        QString m = QStringLiteral("the job %1 (%2)").arg(endedBy, jobState);
        if (engine && !engine->message.isEmpty())
            m += QStringLiteral("; the engine: ") + engine->message;
        m += QStringLiteral("; resume continues from the last checkpoint");
        return {store::status::kFailed, m};
    }
    if (engine) return *engine;
    if (killedAfterGrace)
        return {store::status::kCancelled,
                QStringLiteral("killed (SIGKILL) after the grace period; no final checkpoint")};
    if (jobState == QLatin1String("CANCELLED"))
        return {store::status::kCancelled,
                QStringLiteral("the job was cancelled before the engine wrote a final status%1")
                    .arg(jobReason.isEmpty() || jobReason == QLatin1String("None")
                             ? QString()
                             : QStringLiteral(" (%1)").arg(jobReason))};
    if (terminatedByUs)
        return {store::status::kCancelled,
                QStringLiteral("stopped by SIGTERM before it wrote a final status (cancelled while "
                               "starting); no checkpoint")};
    const QString err = engineErr ? lastLine(*engineErr) : QString();
    if (!err.isEmpty()) return {store::status::kFailed, err};
    if (!jobState.isEmpty() && jobState != QLatin1String("COMPLETED"))
        return {store::status::kFailed,
                QStringLiteral("the job ended %1%2 before the engine wrote a final status")
                    .arg(jobState, jobReason.isEmpty() || jobReason == QLatin1String("None")
                                       ? QString()
                                       : QStringLiteral(" (%1)").arg(jobReason))};
    return {
        store::status::kFailed,
        QStringLiteral("the engine stopped without writing a final status (killed or crashed)")};
}

QString findLocalEngine() {
    const QByteArray env = qgetenv("BCD_TRAIN");
    if (!env.isEmpty()) return QString::fromLocal8Bit(env);
    if (QCoreApplication::instance()) {
        const QDir app(QCoreApplication::applicationDirPath());
        for (const char* rel : {"bcd-train", "../engine/bcd-train"}) {
            const QFileInfo fi(app.absoluteFilePath(QLatin1String(rel)));
            if (fi.isFile() && fi.isExecutable()) return fi.canonicalFilePath();
        }
    }
    return QStringLiteral("bcd-train");
}

} // namespace bcd::launch
