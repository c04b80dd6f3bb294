// Must NOT compile (tests/app/nodes/CMakeLists.txt: tst_shellsyntax_consteval): shell syntax
// comes from string literals only, so user text cannot become part of a command line unquoted.
#include "nodes/shell_command.h"

QString commandFrom(const char* userText) {
    return bcd::nodes::ShellCommand{QStringLiteral("ls")}.op(userText).text();
}
