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

// The checkpoints of a run folder on this machine that a run can start from or be sampled from,
// "final" first (when there), then checkpoints/step-N newest first; complete ones only (DONE).
QStringList localCheckpoints(const QString& runDir);
// A checkpoint's model folder: RUN/final or RUN/checkpoints/step-N.
QString checkpointDir(const QString& runDir, const QString& checkpoint);
// The config of a run forked from `checkpoint` of a run (folder runDir, config `config`): the
// model is the checkpoint's folder (its weights; optimizer state, schedule and data order start
// afresh), output.dir is left to the launcher; everything else as the original run had it.
QJsonObject forkConfig(const QJsonObject& config, const QString& runDir, const QString& checkpoint);
// The tag that records where a fork came from: "fork-of:12@step-00000100".
QString forkTag(qint64 runId, const QString& checkpoint);
// "<id>-<slug>", the run's folder under a node's run root.
QString runFolderName(qint64 id, const QString& name);

} // namespace bcd::launch
