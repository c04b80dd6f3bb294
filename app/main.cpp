// bcd-workbench: with a command, the headless CLI (app/cli); without one, the GUI (ui/) when this
// build has it, else the CLI's usage.

#include "cli/cli.h"

#ifdef BCD_WITH_GUI
#include "ui/gui.h"

#include <QFileInfo>
#include <QStandardPaths>
#include <cstring>
#endif

int main(int argc, char** argv) {
#ifdef BCD_WITH_GUI
    // Only "--db FILE" (or none) and Qt's own options (-platform, -style, ...): the GUI.
    QString db;
    bool command = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = QString::fromLocal8Bit(argv[++i]);
        } else if (std::strncmp(argv[i], "--db=", 5) == 0) {
            db = QString::fromLocal8Bit(argv[i] + 5);
        } else if (argv[i][0] != '-' || std::strncmp(argv[i], "--", 2) == 0 ||
                   std::strcmp(argv[i], "-h") == 0) {
            command = true; // a command word, or a long option of the CLI (--help, --version)
        } else if (i + 1 < argc && argv[i + 1][0] != '-') {
            ++i; // a Qt option's value: -platform offscreen
        }
    }
    if (!command) {
        if (db.isEmpty()) {
            db = QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) +
                 QStringLiteral("/bcd-workbench/store.sqlite");
        }
        return bcd::ui::runGui(argc, argv, QFileInfo(db).absoluteFilePath());
    }
#endif
    return bcd::cli::main(argc, argv);
}
