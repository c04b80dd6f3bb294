#pragma once
// Stored records as JSON: the CLI's --json output (stable keys, documented in docs/workbench.md).

#include "store/compare.h"

#include <QJsonArray>
#include <QJsonObject>

namespace bcd::cli {

QJsonObject nodeJson(const store::NodeRecord& n);
QJsonObject runJson(const store::RunRecord& r); // without config, points and events
QJsonObject pointJson(const store::MetricPoint& p);
QJsonObject eventJson(const store::EventRecord& e);
QJsonObject phaseJson(const store::PhaseRecord& p);
QJsonObject summaryJson(const store::RunSummary& s);

} // namespace bcd::cli
