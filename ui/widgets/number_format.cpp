#include "ui/widgets/number_format.h"

#include <QLocale>
#include <cmath>

namespace bcd::ui {

QString formatScientific(double v) {
    if (!std::isfinite(v)) return QStringLiteral("—");
    if (v == 0) return QStringLiteral("0");
    // 'e' with two decimals, then the mantissa's trailing zeros and the exponent's padding go.
    const QString s = QString::number(v, 'e', 2);
    const qsizetype e = s.indexOf(QLatin1Char('e'));
    QString mantissa = s.left(e);
    if (mantissa.contains(QLatin1Char('.'))) {
        while (mantissa.endsWith(QLatin1Char('0'))) mantissa.chop(1);
        if (mantissa.endsWith(QLatin1Char('.'))) mantissa.chop(1);
    }
    const int exponent = s.mid(e + 1).toInt();
    return mantissa + QStringLiteral("e%1%2")
                          .arg(exponent > 0 ? QStringLiteral("+") : QString())
                          .arg(exponent);
}

QString formatLr(double v) {
    if (!std::isfinite(v)) return QStringLiteral("—");
    const double a = std::abs(v);
    if (a == 0) return QStringLiteral("0");
    if (a < 1e-2 || a >= 1e4) return formatScientific(v);
    return QString::number(v, 'g', 4);
}

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
