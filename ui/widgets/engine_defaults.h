#pragma once
// What a run config means once the engine has filled in what it leaves out: the defaults come
// from the engine's own config library (a default bcd::RunConfig printed), so no page keeps a
// copy of them that could drift (Compare's "differences only", the Runs page's summary, the
// plan's block strip).

#include <QJsonObject>

namespace bcd::ui {

// Every key of a run config with its engine default, without the keys that have none (the model
// and data paths, the tokenizer, which follows the model folder, output.dir).
const QJsonObject& engineDefaults();
// `config` with each key it leaves out set to the engine's default.
QJsonObject resolvedConfig(const QJsonObject& config);

} // namespace bcd::ui
