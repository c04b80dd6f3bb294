#pragma once
// The last lines of a run's train.log: from a local file without loading all of it, or from the
// bytes a launcher session read of a remote one (LauncherSession::readRunFile keeps the file's
// last MiB). Qt Core only; the Monitor page shows it.

#include <QByteArray>
#include <QString>
#include <QStringList>

namespace bcd::launch {

// At most maxLines lines of bytes, the last ones. With cutAtStart (bytes begin inside the file),
// the first, partial line is dropped; a trailing newline ends the last line.
QStringList tailLines(QByteArray bytes, bool cutAtStart, int maxLines);

// At most maxLines complete or trailing lines from the last maxBytes of the file; empty when the
// file cannot be read. A line cut by the byte window is dropped.
QStringList readLogTail(const QString& path, int maxLines, qint64 maxBytes = 64 * 1024);

} // namespace bcd::launch
