#pragma once
// Smoothing of metric curves as TensorBoard does it: an exponential moving average whose start-up
// bias toward zero is divided out, so the first smoothed value equals the first raw value.

#include <QVector>

namespace bcd::ui {

// s_i = m_i / (1 - w^n_i), m_i = w^c_i · m_{i-1} + (1 - w^c_i) · y_i, m_0 = 0, where n_i is the
// number of raw points up to and including sample i and c_i = counts[i] the number of raw points
// sample i stands for (1 for every sample when counts is empty: TensorBoard's formula exactly).
// Counts keep the smoothing's reach in steps the same when a series is downsampled to buckets.
// Non-finite values are passed through and do not enter the average. weight is clamped to [0, 1).
QVector<double> emaSmooth(const QVector<double>& values, double weight,
                          const QVector<double>& counts = {});

// The same smoothing over a whole run's values (steps ascending), read off at the steps `at`
// (ascending; each one of `steps`, else the value at the last step before it, NaN before the
// first): emaSmooth(values, weight)[i] at steps[i], bitwise. The value at a step then depends on
// the run's points up to that step only, never on which part of the run a chart shows.
QVector<double> emaSmoothAt(const QVector<double>& steps, const QVector<double>& values,
                            double weight, const QVector<double>& at);

} // namespace bcd::ui
