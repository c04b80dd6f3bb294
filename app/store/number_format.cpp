#include "store/number_format.h"

#include <cmath>

namespace bcd::store {

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

} // namespace bcd::store
