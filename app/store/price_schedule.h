#pragma once
// A run's price over its elapsed time (docs/workbench.md "Cost"): the launch price from 0, then
// each change of its node's price from the run's elapsed time when it was made. The one place
// where cost is computed: Compare, the charts' cost axis, Monitor and the CLI all ask it.
// Qt Core only, tested without a display.

#include <QString>
#include <QVector>
#include <optional>

namespace bcd::store {

struct PriceSegment {
    double fromElapsed = 0;             // seconds of the run's elapsed time
    std::optional<double> pricePerHour; // none: the run had no price then (costs nothing)
    QString setAt;                      // when the change was made (ISO 8601, UTC); empty: launch
    bool operator==(const PriceSegment&) const = default;
};

class PriceSchedule {
public:
    PriceSchedule() = default; // no price at all
    explicit PriceSchedule(std::optional<double> launchPrice);

    // The price from `fromElapsed` on (negative is taken as 0). A change at the elapsed time of an
    // existing segment replaces it; segments stay in elapsed order.
    void change(double fromElapsed, double pricePerHour, const QString& setAt = {});

    // Segments in elapsed order; the first starts at 0 and holds the launch price.
    const QVector<PriceSegment>& segments() const { return segments_; }
    // Whether any segment has a price: the run has a cost axis.
    bool hasPrice() const;
    // The price in force at `elapsed` (the last segment that starts at or before it).
    std::optional<double> priceAt(double elapsed) const;
    // The price in force now (the last segment's).
    std::optional<double> current() const;

    // Dollars spent by `elapsed` seconds: the integral of the price over [0, elapsed]; time
    // without a price costs nothing, so cumulative cost starts at 0. Before 0 it extends the
    // first segment's price linearly (charts extrapolate their axes with it).
    double costAt(double elapsed) const;
    // The inverse of costAt for the cost axis: the first elapsed time at which `cost` is reached;
    // NaN when it never is (no price, or a last price of 0 below it).
    double elapsedAtCost(double cost) const;

private:
    QVector<PriceSegment> segments_{PriceSegment{}};
};

// "$2.10/h"; "no price" without one.
QString formatPrice(std::optional<double> pricePerHour);
// One line per segment: "from 0s: $2.10/h", "from 1h 02m: $3.00/h (set 2026-12-02 23:40 UTC)".
QStringList describeSegments(const PriceSchedule& schedule);

} // namespace bcd::store
