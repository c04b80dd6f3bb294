#include "ui/widgets/smoothing.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace bcd::ui {

QVector<double> emaSmooth(const QVector<double>& values, double weight,
                          const QVector<double>& counts) {
    const double w = std::clamp(weight, 0.0, 0.999999);
    QVector<double> out(values.size());
    double moving = 0;
    double seen = 0; // raw points averaged so far
    for (qsizetype i = 0; i < values.size(); ++i) {
        const double y = values[i];
        if (!std::isfinite(y)) {
            out[i] = y;
            continue;
        }
        const double c = counts.isEmpty() ? 1.0 : std::max(1.0, counts[i]);
        const double decay = std::pow(w, c);
        moving = decay * moving + (1 - decay) * y;
        seen += c;
        const double debias = 1 - std::pow(w, seen);
        out[i] = debias > 0 ? moving / debias : y;
    }
    return out;
}

QVector<double> emaSmoothAt(const QVector<double>& steps, const QVector<double>& values,
                            double weight, const QVector<double>& at) {
    const double w = std::clamp(weight, 0.0, 0.999999);
    QVector<double> out(at.size(), std::numeric_limits<double>::quiet_NaN());
    double moving = 0;
    double seen = 0;
    double lastY = std::numeric_limits<double>::quiet_NaN(); // the last point's value
    qsizetype i = 0;
    for (qsizetype k = 0; k < at.size(); ++k) {
        // Every point up to this step enters the average, as in emaSmooth (c = 1, w^1 = w); the
        // debiasing is only needed where a value is read off.
        for (; i < steps.size() && steps[i] <= at[k]; ++i) {
            lastY = values[i];
            if (!std::isfinite(lastY)) continue;
            moving = w * moving + (1 - w) * lastY;
            seen += 1;
        }
        if (i == 0 || !std::isfinite(lastY)) {
            out[k] = lastY;
            continue;
        }
        const double debias = 1 - std::pow(w, seen);
        out[k] = debias > 0 ? moving / debias : lastY;
    }
    return out;
}

} // namespace bcd::ui
