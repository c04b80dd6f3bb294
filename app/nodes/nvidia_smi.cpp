#include "nodes/nvidia_smi.h"

#include <QStringList>
#include <cmath>

namespace bcd::nodes {

namespace {

constexpr int kFields = 7;             // kNvidiaSmiFields
constexpr qsizetype kQuoteChars = 200; // of a line quoted in a note

// A value nvidia-smi could not read: "[N/A]", "[Not Supported]", "[Unknown Error]", "N/A".
bool unavailable(const QString& field) {
    return field.isEmpty() || field == QLatin1String("N/A") ||
           (field.startsWith('[') && field.endsWith(']'));
}

enum class Field { Missing, Number, Bad };

// A non-negative number (nvidia-smi prints integers; a decimal is rounded down). Anything else —
// "nan", "1e400", "-3", "12abc" — is Bad, never a number made of garbage.
Field number(const QString& raw, qint64* value) {
    const QString field = raw.trimmed();
    if (unavailable(field)) return Field::Missing;
    bool ok = false;
    qint64 v = field.toLongLong(&ok);
    if (!ok) {
        const double d = field.toDouble(&ok);
        if (!ok || !std::isfinite(d) || d < 0 || d > 9.0e15) return Field::Bad;
        v = static_cast<qint64>(d);
    }
    if (v < 0) return Field::Bad;
    *value = v;
    return Field::Number;
}

QString quoted(QString line) {
    line = line.trimmed();
    if (line.size() > kQuoteChars) line = line.left(kQuoteChars) + QStringLiteral("…");
    return line;
}

QString firstLine(const QString& text) {
    return quoted(text.trimmed().section('\n', 0, 0));
}

// One CSV line of kNvidiaSmiFields; nullopt when it is not one.
std::optional<GpuInfo> gpuLine(const QString& line) {
    QStringList f = line.split(',');
    // A name holding commas: everything between uuid and the four trailing fields.
    if (f.size() > kFields) {
        const QString name = f.mid(2, f.size() - (kFields - 1)).join(',');
        f = QStringList{f[0], f[1], name} + f.mid(f.size() - 4);
    }
    if (f.size() != kFields) return std::nullopt;
    for (QString& x : f) x = x.trimmed();
    GpuInfo g;
    qint64 total = 0, used = 0, util = 0;
    bool isIndex = false;
    g.index = f[0].toInt(&isIndex);
    if (!isIndex || g.index < 0) return std::nullopt;
    g.uuid = f[1];
    g.name = f[2];
    if (g.uuid.isEmpty() || g.name.isEmpty() || unavailable(g.name)) return std::nullopt;
    switch (number(f[3], &total)) {
    case Field::Bad:
        return std::nullopt;
    case Field::Number:
        g.memoryMiB = total;
        break;
    case Field::Missing:
        break;
    }
    switch (number(f[4], &used)) {
    case Field::Bad:
        return std::nullopt;
    case Field::Number:
        g.memoryUsedMiB = used;
        break;
    case Field::Missing:
        break;
    }
    switch (number(f[5], &util)) {
    case Field::Bad:
        return std::nullopt;
    case Field::Number:
        if (util > 100) return std::nullopt;
        g.utilization = static_cast<int>(util);
        break;
    case Field::Missing:
        break;
    }
    g.driver = unavailable(f[6]) ? QString() : f[6];
    return g;
}

} // namespace

QString nvidiaSmiCommand() {
    return QStringLiteral("nvidia-smi --query-gpu=%1 --format=csv,noheader,nounits")
        .arg(QLatin1String(kNvidiaSmiFields));
}

NvidiaSmiResult parseNvidiaSmi(const QByteArray& out, const QByteArray& err, int exitStatus) {
    NvidiaSmiResult r;
    const QString outText = QString::fromUtf8(out), errText = QString::fromUtf8(err);
    // The shell's answer when there is no nvidia-smi (127; -1 when the exit status got lost).
    if (exitStatus == 127 ||
        (exitStatus != 0 &&
         (errText.contains(QLatin1String("nvidia-smi: not found")) ||
          errText.contains(QLatin1String("nvidia-smi: command not found")) ||
          errText.contains(QLatin1String("nvidia-smi: No such file or directory"))))) {
        r.note = QStringLiteral("nvidia-smi not found (no NVIDIA driver)");
        return r;
    }

    // Read what is there even when nvidia-smi failed: with one GPU lost it still lists the others.
    QStringList bad;
    for (const QString& raw : outText.split('\n')) {
        const QString line = raw.trimmed();
        if (line.isEmpty()) continue;
        if (const auto g = gpuLine(line)) {
            if (!g->driver.isEmpty()) r.driver = g->driver;
            r.gpus.push_back(*g);
        } else {
            bad << line;
        }
    }

    if (r.gpus.isEmpty()) {
        if (outText.contains(QLatin1String("No devices were found")))
            r.note = QStringLiteral("no NVIDIA GPU found (nvidia-smi: No devices were found)");
        else if (exitStatus != 0)
            r.note =
                QStringLiteral("nvidia-smi failed (exit %1): %2")
                    .arg(exitStatus)
                    .arg(firstLine(errText).isEmpty() ? firstLine(outText) : firstLine(errText));
        else if (bad.isEmpty())
            r.note = QStringLiteral("no NVIDIA GPU found (nvidia-smi printed nothing)");
        else
            r.note = "unexpected nvidia-smi output: " + quoted(bad.front());
        return r;
    }
    if (exitStatus != 0)
        r.note = QStringLiteral("nvidia-smi failed (exit %1), %2 GPU(s) listed: %3")
                     .arg(exitStatus)
                     .arg(r.gpus.size())
                     .arg(!bad.isEmpty() ? quoted(bad.front()) : firstLine(errText));
    else if (!bad.isEmpty())
        r.note = QStringLiteral("%1 line(s) of nvidia-smi output not understood: %2")
                     .arg(bad.size())
                     .arg(quoted(bad.front()));
    return r;
}

} // namespace bcd::nodes
