#pragma once
// The one CSV writer of stored metric points: `bcd-workbench run export --csv` (one run, through
// RunStore::exportCsv) and the Compare page's data export (several runs, with run columns).

#include "store/run_store.h"

#include <QIODevice>
#include <QList>
#include <QString>

namespace bcd::store {

// A CSV field: as is, or quoted with doubled quotes when it holds a comma, a quote or a newline.
QString csvField(const QString& text);

// Header "type,step,<metric columns>", with runColumns "run_id,run," ahead of it; then, run after
// run, the step and eval points merged by step (at an equal step the step record comes first).
// A number is the shortest text that reads back exactly; integer columns are written as integers;
// an absent value is an empty field. Ids of runs that do not exist are skipped. Store thread only.
void writeMetricsCsv(RunStore& store, const QList<qint64>& runIds, QIODevice& out, bool runColumns);

// writeMetricsCsv into file, replacing it atomically (QSaveFile); throws StoreError naming the file
// and the system's reason when it cannot be written.
void exportMetricsCsv(RunStore& store, const QList<qint64>& runIds, const QString& file,
                      bool runColumns);

} // namespace bcd::store
