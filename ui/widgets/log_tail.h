#pragma once
// The last lines of a text file (a run's train.log), read without loading the whole file.

#include <QString>
#include <QStringList>

namespace bcd::ui {

// At most maxLines complete or trailing lines from the last maxBytes of the file; empty when the
// file cannot be read. A line cut by the byte window is dropped.
QStringList readLogTail(const QString& path, int maxLines, qint64 maxBytes = 64 * 1024);

} // namespace bcd::ui
