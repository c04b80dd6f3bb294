#pragma once
// One way to write numbers across the pages: learning rates everywhere as "3e-4" / "1.5e-5"
// (the form, Monitor's readout and axes, Compare's config table), other values with four
// significant digits and thousands separators ("3.912", "12,345"), tiny or huge ones in the same
// short scientific form.

#include "store/number_format.h"

#include <QString>
#include <QVector>

namespace bcd::ui {

// The learning-rate format is the store's, shared with the CLI.
using store::formatLr;
using store::formatScientific;
// A metric value: "—" when not finite, scientific below 0.01 or from 1e7, thousands separated from
// 1,000, else four significant digits.
QString formatValue(double v);
// The labels of one axis's ticks (evenly spaced), all in one format: scientific when every tick
// is below 0.01 (a learning-rate axis reads as formatLr writes: "5e-4", "1.5e-3"); in millions or
// billions from 1e6 ("1.5B"); else thousands separated ("140,000"), with as many decimals as the
// spacing needs ("2.5", "3.0"). A tick that is zero up to rounding reads "0".
QVector<QString> formatTicks(const QVector<double>& ticks);
// Whether a dotted config key is a learning rate (optim.lr, optim.min_lr).
bool isLearningRateKey(const QString& dottedKey);

} // namespace bcd::ui
