#include "ui/widgets/smoothing.h"

#include <algorithm>
#include <cmath>

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

} // namespace bcd::ui
