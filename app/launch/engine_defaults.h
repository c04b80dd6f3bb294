#pragma once
// What a run config means once the engine has filled in what it leaves out: the defaults come
// from the engine's own config library (a default bcd::RunConfig printed), so nothing in the
// workbench keeps a copy of them that could drift (Compare's "differences only" on the page and
// in `bcd-workbench compare`, the Runs page's summary, the plan's block strip). A library of its
// own (bcd_app_engine_defaults): the launcher plugins do not link the engine.

#include <QJsonObject>

namespace bcd::launch {

// Every key of a run config with its engine default, without the keys that have none (the model
// and data paths, the tokenizer, which follows the model folder, output.dir).
const QJsonObject& engineDefaults();
// `config` with each key it leaves out set to the engine's default.
QJsonObject resolvedConfig(const QJsonObject& config);

} // namespace bcd::launch
