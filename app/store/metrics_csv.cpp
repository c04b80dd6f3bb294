#include "store/metrics_csv.h"

#include <QLocale>
#include <QSaveFile>
#include <QTextStream>

namespace bcd::store {

namespace {

QString csvNumber(double v, bool integer) {
    if (integer) return QString::number(static_cast<qint64>(v));
    return QString::number(v, 'g', QLocale::FloatingPointShortest);
}

} // namespace

QString csvField(const QString& text) {
    if (!text.contains(QLatin1Char(',')) && !text.contains(QLatin1Char('"')) &&
        !text.contains(QLatin1Char('\n')))
        return text;
    return QLatin1Char('"') + QString(text).replace(QLatin1String("\""), QLatin1String("\"\"")) +
           QLatin1Char('"');
}

void writeMetricsCsv(RunStore& store, const QList<qint64>& runIds, QIODevice& out,
                     bool runColumns) {
    QTextStream ts(&out);
    if (runColumns) ts << "run_id,run,";
    ts << "type,step";
    for (int c = 0; c < kMetricColumns; ++c) ts << ',' << columnName(static_cast<MetricColumn>(c));
    ts << '\n';
    for (const qint64 id : runIds) {
        const auto run = store.run(id);
        if (!run) continue;
        const QString prefix =
            runColumns ? QString::number(id) + ',' + csvField(run->name) + ',' : QString();
        const auto steps = store.points(id, PointType::Step);
        const auto evals = store.points(id, PointType::Eval);
        qsizetype i = 0, j = 0;
        while (i < steps.size() || j < evals.size()) {
            const bool takeStep =
                j >= evals.size() || (i < steps.size() && steps[i].step <= evals[j].step);
            const MetricPoint& p = takeStep ? steps[i++] : evals[j++];
            ts << prefix << (p.type == PointType::Step ? "step" : "eval") << ',' << p.step;
            for (int c = 0; c < kMetricColumns; ++c) {
                ts << ',';
                const auto col = static_cast<MetricColumn>(c);
                if (const auto v = p.value(col)) ts << csvNumber(*v, columnIsInteger(col));
            }
            ts << '\n';
        }
    }
    ts.flush();
}

void exportMetricsCsv(RunStore& store, const QList<qint64>& runIds, const QString& file,
                      bool runColumns) {
    QSaveFile f(file);
    if (!f.open(QIODevice::WriteOnly))
        throw StoreError(file.toStdString() + ": cannot write: " + f.errorString().toStdString());
    writeMetricsCsv(store, runIds, f, runColumns);
    if (!f.commit())
        throw StoreError(file.toStdString() + ": cannot write: " + f.errorString().toStdString());
}

} // namespace bcd::store
