#include "launch/run_files.h"

#include "store/store_types.h"

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

FinalState finalState(const std::optional<QByteArray>& statusJson,
                      const std::optional<QByteArray>& engineErr, bool killedAfterGrace,
                      bool terminatedByUs) {
    if (statusJson) {
        const StatusFile s = parseStatusFile(*statusJson);
        if (s.valid && store::status::isTerminal(s.state)) return {s.state, s.message};
    }
    if (killedAfterGrace)
        return {store::status::kCancelled,
                QStringLiteral("killed (SIGKILL) after the grace period; no final checkpoint")};
    if (terminatedByUs)
        return {store::status::kCancelled,
                QStringLiteral("stopped by SIGTERM before it wrote a final status (cancelled while "
                               "starting); no checkpoint")};
    const QString err = engineErr ? lastLine(*engineErr) : QString();
    if (!err.isEmpty()) return {store::status::kFailed, err};
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
