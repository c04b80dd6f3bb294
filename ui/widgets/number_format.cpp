#include "ui/widgets/number_format.h"

#include <QLocale>
#include <cmath>

namespace bcd::ui {

QString formatValue(double v) {
    if (!std::isfinite(v)) return QStringLiteral("—");
    const double a = std::abs(v);
    if (a != 0 && (a < 1e-2 || a >= 1e7)) return formatScientific(v);
    if (a >= 1000) return QLocale().toString(v, 'f', 0);
    return QLocale().toString(v, 'g', 4);
}

namespace {
// The fewest decimals (up to 6) that write multiples of `step` exactly.
int decimalsFor(double step) {
    for (int d = 0; d < 6; ++d) {
        const double scaled = step * std::pow(10.0, d);
        if (std::abs(scaled - std::round(scaled)) <= 1e-6 * std::max(1.0, scaled)) return d;
    }
    return 6;
}
} // namespace

QVector<QString> formatTicks(const QVector<double>& ticks) {
    QVector<QString> out;
    out.reserve(ticks.size());
    if (ticks.size() < 2) {
        for (double t : ticks) out << formatValue(t);
        return out;
    }
    const double step = std::abs(ticks[1] - ticks[0]);
    double largest = 0;
    for (double t : ticks)
        if (std::isfinite(t) && std::abs(t) > step * 1e-6) largest = std::max(largest, std::abs(t));
    double unit = 1;
    QString suffix;
    if (largest >= 1e12) {
        for (double t : ticks) out << formatValue(t);
        return out;
    }
    if (largest >= 1e9)
        unit = 1e9, suffix = QStringLiteral("B");
    else if (largest >= 1e6)
        unit = 1e6, suffix = QStringLiteral("M");
    const bool scientific = largest > 0 && largest < 1e-2;
    const int decimals = decimalsFor(step / unit);
    for (double t : ticks) {
        if (!std::isfinite(t))
            out << QStringLiteral("—");
        else if (std::abs(t) <= step * 1e-6)
            out << QStringLiteral("0");
        else if (scientific)
            out << formatScientific(t);
        else
            out << QLocale().toString(t / unit, 'f', decimals) + suffix;
    }
    return out;
}

bool isLearningRateKey(const QString& key) {
    return key == QLatin1String("optim.lr") || key == QLatin1String("optim.min_lr");
}

} // namespace bcd::ui
