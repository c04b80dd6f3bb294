#pragma once
// The GUI's entry: bcd-workbench without a command.

#include <QString>

namespace bcd::ui {

// Runs the GUI on the store at dbPath (created when missing); returns the exit code.
int runGui(int argc, char** argv, const QString& dbPath);

} // namespace bcd::ui
