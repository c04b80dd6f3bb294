#include "store/price_schedule.h"

#include "store/run_curves.h"

#include <QDateTime>
#include <QObject>
#include <algorithm>
#include <cmath>
#include <limits>

namespace bcd::store {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
double perSecond(const PriceSegment& s) {
    return s.pricePerHour.value_or(0.0) / 3600.0;
}
} // namespace

PriceSchedule::PriceSchedule(std::optional<double> launchPrice) {
    segments_.front().pricePerHour = launchPrice;
}

void PriceSchedule::change(double fromElapsed, double pricePerHour, const QString& setAt) {
    const double from = std::max(0.0, fromElapsed);
    const auto at =
        std::lower_bound(segments_.begin(), segments_.end(), from,
                         [](const PriceSegment& s, double e) { return s.fromElapsed < e; });
    if (at != segments_.end() && at->fromElapsed == from) {
        at->pricePerHour = pricePerHour;
        at->setAt = setAt;
        return;
    }
    segments_.insert(at, PriceSegment{from, pricePerHour, setAt});
}

bool PriceSchedule::hasPrice() const {
    return std::any_of(segments_.begin(), segments_.end(),
                       [](const PriceSegment& s) { return s.pricePerHour.has_value(); });
}

std::optional<double> PriceSchedule::priceAt(double elapsed) const {
    const auto after =
        std::upper_bound(segments_.begin(), segments_.end(), elapsed,
                         [](double e, const PriceSegment& s) { return e < s.fromElapsed; });
    return after == segments_.begin() ? segments_.front().pricePerHour
                                      : std::prev(after)->pricePerHour;
}

std::optional<double> PriceSchedule::current() const {
    return segments_.back().pricePerHour;
}

double PriceSchedule::costAt(double elapsed) const {
    if (elapsed <= 0) return elapsed * perSecond(segments_.front());
    double cost = 0;
    for (qsizetype i = 0; i < segments_.size(); ++i) {
        const double from = segments_[i].fromElapsed;
        if (elapsed <= from) break;
        const double to =
            i + 1 < segments_.size() ? std::min(elapsed, segments_[i + 1].fromElapsed) : elapsed;
        cost += (to - from) * perSecond(segments_[i]);
    }
    return cost;
}

double PriceSchedule::elapsedAtCost(double cost) const {
    if (std::isnan(cost)) return kNaN;
    if (cost <= 0) {
        const double rate = perSecond(segments_.front());
        if (cost == 0) {
            // The first moment the run costs anything (0 when it had a price from the start).
            for (const auto& s : segments_)
                if (perSecond(s) > 0) return s.fromElapsed;
            return kNaN;
        }
        return rate > 0 ? cost / rate : kNaN;
    }
    double spent = 0;
    for (qsizetype i = 0; i < segments_.size(); ++i) {
        const double rate = perSecond(segments_[i]);
        const bool last = i + 1 == segments_.size();
        const double length = last ? 0 : segments_[i + 1].fromElapsed - segments_[i].fromElapsed;
        if (rate > 0 && (last || spent + length * rate >= cost))
            return segments_[i].fromElapsed + (cost - spent) / rate;
        spent += length * rate;
    }
    return kNaN;
}

QString formatPrice(std::optional<double> pricePerHour) {
    return pricePerHour ? QStringLiteral("$%1/h").arg(*pricePerHour, 0, 'f', 2)
                        : QObject::tr("no price");
}

QStringList describeSegments(const PriceSchedule& schedule) {
    QStringList lines;
    for (const auto& s : schedule.segments()) {
        QString line = QObject::tr("from %1: %2")
                           .arg(formatDuration(s.fromElapsed), formatPrice(s.pricePerHour));
        if (!s.setAt.isEmpty()) {
            const QDateTime t = QDateTime::fromString(s.setAt, Qt::ISODate);
            line +=
                QObject::tr(" (set %1)")
                    .arg(t.isValid() ? t.toUTC().toString(QStringLiteral("yyyy-MM-dd HH:mm 'UTC'"))
                                     : s.setAt);
        }
        lines << line;
    }
    return lines;
}

} // namespace bcd::store
