#pragma once
// The charts' data model lives in app/store/run_curves.h (Qt Core only, no widgets); this header
// names it in bcd::ui for the pages and the chart widget.

#include "store/run_curves.h"

namespace bcd::ui {

using store::CurveRequest;
using store::fetchRunCurves;
using store::formatBytes;
using store::formatDuration;
using store::RunCurves;
using store::seriesFromBuckets;
using store::StepMap;
using store::stepMapFromBuckets;
using store::StepSeries;
using store::WholeSeriesCache;
using store::XAxisKind;
using store::xAxisTitle;

} // namespace bcd::ui
