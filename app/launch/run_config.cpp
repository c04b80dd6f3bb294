#include "launch/run_config.h"

#include "launch/launcher.h"
#include "launch/sample_command.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonParseError>
#include <algorithm>

namespace bcd::launch {

const QStringList& configPathKeys() {
    static const QStringList keys{QStringLiteral("model.path"), QStringLiteral("data.train"),
                                  QStringLiteral("data.val"), QStringLiteral("data.tokenizer")};
    return keys;
}

QJsonValue configValue(const QJsonObject& config, const QString& dottedKey) {
    const QStringList parts = dottedKey.split('.');
    QJsonValue v = config;
    for (const QString& p : parts) {
        if (!v.isObject()) return QJsonValue(QJsonValue::Undefined);
        v = v.toObject().value(p);
    }
    return v;
}

QJsonObject withConfigValue(QJsonObject config, const QString& dottedKey, const QJsonValue& value) {
    const qsizetype dot = dottedKey.indexOf('.');
    if (dot < 0) {
        config.insert(dottedKey, value);
        return config;
    }
    const QString head = dottedKey.left(dot);
    config.insert(head,
                  withConfigValue(config.value(head).toObject(), dottedKey.mid(dot + 1), value));
    return config;
}

QJsonObject loadRunConfig(const QString& file) {
    QFile f(file);
    if (!f.open(QIODevice::ReadOnly))
        throw LaunchError(file + QStringLiteral(": cannot read: ") + f.errorString(), true);
    QJsonParseError err{};
    const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &err);
    if (err.error != QJsonParseError::NoError)
        throw LaunchError(QStringLiteral("%1: not valid JSON at byte %2: %3")
                              .arg(file)
                              .arg(err.offset)
                              .arg(err.errorString()),
                          true);
    if (!doc.isObject())
        throw LaunchError(file + QStringLiteral(": expected a JSON object (a run config)"), true);
    const QJsonObject config = doc.object();
    for (const char* key : {"model.path", "data.train"})
        if (!configValue(config, QLatin1String(key)).isString())
            throw LaunchError(
                QStringLiteral("%1: %2: required (a path)").arg(file, QLatin1String(key)), true);
    return config;
}

QJsonObject resolveConfigPaths(QJsonObject config, const QString& baseDir) {
    const QDir base(baseDir);
    for (const QString& key : configPathKeys()) {
        const QJsonValue v = configValue(config, key);
        if (!v.isString()) continue;
        const QString path = v.toString();
        if (path.isEmpty() ||
            (key == QLatin1String("data.tokenizer") && path == QLatin1String("byte")))
            continue;
        if (QDir::isAbsolutePath(path)) continue;
        config = withConfigValue(config, key, QDir::cleanPath(base.absoluteFilePath(path)));
    }
    return config;
}

qint64 configSteps(const QJsonObject& config) {
    const QJsonValue v = configValue(config, QStringLiteral("train.steps"));
    return v.isDouble() ? static_cast<qint64>(v.toDouble()) : 1000;
}

QString runSlug(const QString& name) {
    QString s;
    for (QChar c : name) {
        const char16_t u = c.unicode();
        const bool ok = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
                        (u >= '0' && u <= '9') || u == '.' || u == '_' || u == '-';
        if (ok)
            s += c;
        else if (!s.endsWith('-'))
            s += '-';
        if (s.size() >= 40) break;
    }
    while (s.startsWith('.') || s.startsWith('-')) s.remove(0, 1);
    while (s.endsWith('-')) s.chop(1);
    return s.isEmpty() ? QStringLiteral("run") : s;
}

QString runFolderName(qint64 id, const QString& name) {
    return QString::number(id) + '-' + runSlug(name);
}

QStringList localCheckpoints(const QString& runDir) {
    // The same rule as a node's listing (sample_command.h): only the listing comes from here.
    QStringList paths;
    if (QFileInfo(runDir + QStringLiteral("/final/config.json")).isFile())
        paths << QStringLiteral("final/config.json");
    const QStringList steps =
        QDir(runDir + QStringLiteral("/checkpoints"))
            .entryList({QStringLiteral("step-*")}, QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QString& s : steps)
        if (QFileInfo(runDir + QStringLiteral("/checkpoints/") + s + QStringLiteral("/DONE"))
                .exists())
            paths << QStringLiteral("checkpoints/") + s + QStringLiteral("/DONE");
    return checkpointsFromListing(paths);
}

QString checkpointDir(const QString& runDir, const QString& checkpoint) {
    return checkpoint == QLatin1String("final")
               ? runDir + QStringLiteral("/final")
               : runDir + QStringLiteral("/checkpoints/") + checkpoint;
}

QJsonObject forkConfig(const QJsonObject& config, const QString& runDir,
                       const QString& checkpoint) {
    QJsonObject c =
        withConfigValue(config, QStringLiteral("model.path"), checkpointDir(runDir, checkpoint));
    QJsonObject out = c.value(QStringLiteral("output")).toObject();
    out.remove(QStringLiteral("dir"));
    c.insert(QStringLiteral("output"), out);
    return c;
}

QString forkTag(qint64 runId, const QString& checkpoint) {
    return QStringLiteral("fork-of:%1@%2").arg(runId).arg(checkpoint);
}

} // namespace bcd::launch
