#pragma once
// The engine's preset models (tiny, small, medium) written as Hugging Face folders in the store's
// models/ folder, so that a first run needs no download: what `bcd-train init --preset P --out
// DIR` does, through the engine library (random weights, seed 1).

#include <QString>

namespace bcd::ui {

// Writes DIR (config.json + model.safetensors) unless it already holds a model. Blocking (a
// fraction of a second for small): call it off the GUI thread. Returns an error message, empty
// on success.
QString ensurePresetModel(const QString& preset, const QString& dir);

} // namespace bcd::ui
