#include "launch/log_tail.h"

#include <QFile>
#include <algorithm>

namespace bcd::launch {

QStringList tailLines(QByteArray bytes, bool cutAtStart, int maxLines) {
    if (cutAtStart) {
        const qsizetype nl = bytes.indexOf('\n');
        bytes = nl < 0 ? QByteArray() : bytes.mid(nl + 1);
    }
    QStringList lines = QString::fromUtf8(bytes).split('\n');
    if (!lines.isEmpty() && lines.back().isEmpty()) lines.pop_back();
    if (lines.size() > maxLines) lines = lines.mid(lines.size() - maxLines);
    return lines;
}

QStringList readLogTail(const QString& path, int maxLines, qint64 maxBytes) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    const qint64 size = f.size();
    const qint64 start = std::max<qint64>(0, size - maxBytes);
    if (!f.seek(start)) return {};
    return tailLines(f.read(size - start), start > 0, maxLines);
}

} // namespace bcd::launch
