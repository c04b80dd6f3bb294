#pragma once
// The run config as the workbench handles it before a launch: read, paths made absolute against
// the config's folder (as the engine would), output.dir left to the launcher; run folder names.

#include <QJsonObject>
#include <QJsonValue>
#include <QString>
#include <QStringList>
#include <optional>

namespace bcd::launch {

// Config keys that hold paths (data.tokenizer also takes "byte").
const QStringList& configPathKeys();

// Reads a run config; throws LaunchError(badInput) naming the file (and key) when it is not
// readable, not a JSON object, or lacks model.path or data.train. The engine checks the rest
// (`bcd-train validate`) before anything starts.
QJsonObject loadRunConfig(const QString& file);

// Relative paths resolved against baseDir; "byte" and absolute paths unchanged.
QJsonObject resolveConfigPaths(QJsonObject config, const QString& baseDir);

QJsonValue configValue(const QJsonObject& config, const QString& dottedKey);
QJsonObject withConfigValue(QJsonObject config, const QString& dottedKey, const QJsonValue& value);

// train.steps, the engine's default (1000) when absent.
qint64 configSteps(const QJsonObject& config);

// A file-name-safe form of a run name: [A-Za-z0-9._-], at most 40 characters, never empty or
// hidden. Whatever a name holds, only this reaches a path or a command.
QString runSlug(const QString& name);
// "<id>-<slug>", the run's folder under a node's run root.
QString runFolderName(qint64 id, const QString& name);

} // namespace bcd::launch
