// The metrics.jsonl line parser (app/store/metrics_record.cpp): every engine record type, the
// columns it extracts, strict refusal of what is not one RFC 8259 object, and agreement with
// QJsonDocument on the values it reads.

#include "metrics_lines.h"
#include "store/metrics_record.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QTest>
#include <cmath>

using namespace bcd::store;

namespace {

std::optional<MetricsRecord> parse(const QByteArray& line, std::string* error = nullptr) {
    QByteArray l = line;
    if (l.endsWith('\n')) l.chop(1);
    return parseMetricsRecord(std::string_view(l.constData(), static_cast<std::size_t>(l.size())),
                              error);
}

std::optional<double> col(const MetricsRecord& r, MetricColumn c) {
    return r.values[static_cast<std::size_t>(c)];
}

// What QJsonDocument reads for the same columns: the reference of the differential test.
std::array<std::optional<double>, kMetricColumns> referenceColumns(const QJsonObject& o) {
    std::array<std::optional<double>, kMetricColumns> out{};
    for (int c = 0; c < kMetricColumns; ++c) {
        const QJsonValue v = o.value(QLatin1String(columnRecordKey(static_cast<MetricColumn>(c))));
        if (v.isDouble()) out[static_cast<std::size_t>(c)] = v.toDouble();
    }
    return out;
}

} // namespace

class TestMetricsRecord : public QObject {
    Q_OBJECT
private slots:
    void columnTable() {
        QCOMPARE(kMetricColumns, 16);
        const char* names[] = {"tokens",   "elapsed",    "loss",      "lr",
                               "block",    "grad_norm",  "tok_s",     "mem",
                               "val_loss", "comm_bytes", "cpu_pct",   "rss",
                               "gpu_util", "gpu_mem",    "gpu_power", "gpu_temp"};
        const char* keys[] = {"tokens",       "elapsed_s",     "loss",        "lr",
                              "block",        "grad_norm",     "tok_s",       "mem_bytes",
                              "val_loss",     "comm_bytes",    "cpu_pct",     "rss_bytes",
                              "gpu_util_pct", "gpu_mem_bytes", "gpu_power_w", "gpu_temp_c"};
        for (int c = 0; c < kMetricColumns; ++c) {
            const auto mc = static_cast<MetricColumn>(c);
            QCOMPARE(columnName(mc), names[c]);
            QCOMPARE(columnRecordKey(mc), keys[c]);
            QCOMPARE(columnFromName(names[c]), std::optional<MetricColumn>(mc));
        }
        QVERIFY(!columnFromName("elapsed_s")); // a record key is not a column name
        QVERIFY(!columnFromName(""));
        QVERIFY(columnIsInteger(MetricColumn::Tokens));
        QVERIFY(columnIsInteger(MetricColumn::Block));
        QVERIFY(columnIsInteger(MetricColumn::Mem));
        QVERIFY(columnIsInteger(MetricColumn::CommBytes));
        QVERIFY(columnIsInteger(MetricColumn::Rss));
        QVERIFY(columnIsInteger(MetricColumn::GpuMem));
        QVERIFY(!columnIsInteger(MetricColumn::CpuPct));
        QVERIFY(!columnIsInteger(MetricColumn::GpuTemp));
        QVERIFY(!columnIsInteger(MetricColumn::Loss));
        QVERIFY(!columnIsInteger(MetricColumn::ValLoss));
    }

    // Phase records (evaluation, checkpoint, final model) with their progress; one without a
    // phase or step is refused, as are negative counts; an unknown record type stays Other.
    void phaseRecord() {
        auto r = parse(bcd::test::phaseLine(100, "eval", "progress", 1.5, 64.25, 3, 12));
        QVERIFY(r);
        QCOMPARE(r->kind, RecordKind::Phase);
        QCOMPARE(r->step, std::optional<long long>(100));
        QCOMPARE(r->phase, std::string("eval"));
        QCOMPARE(r->state, std::string("progress"));
        QCOMPARE(r->done, std::optional<long long>(3));
        QCOMPARE(r->total, std::optional<long long>(12));
        QVERIFY(!r->bytes);
        QCOMPARE(r->phaseSeconds, std::optional<double>(1.5));
        QCOMPARE(col(*r, MetricColumn::Elapsed), std::optional<double>(64.25));
        r = parse(bcd::test::phaseLine(100, "checkpoint", "end", 0.25, 70, -1, -1, 874734));
        QVERIFY(r);
        QCOMPARE(r->bytes, std::optional<long long>(874734));
        QVERIFY(!r->done);
        QVERIFY(!parse(R"({"t":"phase","step":1})"));
        QVERIFY(!parse(R"({"t":"phase","phase":"eval"})"));
        QVERIFY(!parse(R"({"t":"phase","step":1,"phase":"eval","done":-1})"));
        QVERIFY(!parse(R"({"t":"phase","step":1,"phase":3})"));
        r = parse(R"({"t":"gpu_burst","step":4,"whatever":[1,{"a":null}]})");
        QVERIFY(r);
        QCOMPARE(r->kind, RecordKind::Other);
    }

    // The system figures of a step record are columns.
    void systemFigures() {
        const auto r = parse(R"({"t":"step","step":7,"rss_bytes":16343040,"cpu_pct":65.5,)"
                             R"("gpu_util_pct":87,"gpu_mem_bytes":41943040000,"gpu_power_w":312.5,)"
                             R"("gpu_temp_c":64})");
        QVERIFY(r);
        QCOMPARE(col(*r, MetricColumn::Rss), std::optional<double>(16343040));
        QCOMPARE(col(*r, MetricColumn::CpuPct), std::optional<double>(65.5));
        QCOMPARE(col(*r, MetricColumn::GpuUtil), std::optional<double>(87));
        QCOMPARE(col(*r, MetricColumn::GpuMem), std::optional<double>(41943040000.0));
        QCOMPARE(col(*r, MetricColumn::GpuPower), std::optional<double>(312.5));
        QCOMPARE(col(*r, MetricColumn::GpuTemp), std::optional<double>(64));
    }

    void stepRecord() {
        const auto r = parse(bcd::test::stepLine(42, 3.25, 2));
        QVERIFY(r);
        QCOMPARE(r->kind, RecordKind::Step);
        QCOMPARE(r->type, std::string("step"));
        QCOMPARE(r->step, std::optional<long long>(42));
        QCOMPARE(col(*r, MetricColumn::Tokens), std::optional<double>(42 * 64));
        QCOMPARE(col(*r, MetricColumn::Loss), std::optional<double>(3.25));
        QCOMPARE(col(*r, MetricColumn::Lr), std::optional<double>(0.001));
        QCOMPARE(col(*r, MetricColumn::Block), std::optional<double>(2));
        QCOMPARE(col(*r, MetricColumn::GradNorm), std::optional<double>(1.0 + 42 * 1e-3));
        QCOMPARE(col(*r, MetricColumn::TokS), std::optional<double>(6400.5));
        QCOMPARE(col(*r, MetricColumn::Mem), std::optional<double>(1346688));
        QCOMPARE(col(*r, MetricColumn::Elapsed), std::optional<double>(42 * 0.01));
        QVERIFY(!col(*r, MetricColumn::ValLoss));
    }

    void otherRecords() {
        auto r = parse(bcd::test::startLine());
        QVERIFY(r);
        QCOMPARE(r->kind, RecordKind::Start);
        QVERIFY(!r->step);

        r = parse(bcd::test::evalLine(100, 4.5));
        QVERIFY(r);
        QCOMPARE(r->kind, RecordKind::Eval);
        QCOMPARE(r->step, std::optional<long long>(100));
        QCOMPARE(col(*r, MetricColumn::ValLoss), std::optional<double>(4.5));

        r = parse(bcd::test::switchLine(50, 0, 1));
        QVERIFY(r);
        QCOMPARE(r->kind, RecordKind::Switch);
        QCOMPARE(r->step, std::optional<long long>(50));

        r = parse(bcd::test::ckptLine(100));
        QVERIFY(r);
        QCOMPARE(r->kind, RecordKind::Checkpoint);
        QCOMPARE(r->type, std::string("ckpt"));

        r = parse(bcd::test::resumeLine(30));
        QVERIFY(r);
        QCOMPARE(r->kind, RecordKind::Resume);
        QCOMPARE(r->step, std::optional<long long>(30));

        r = parse(bcd::test::endLine("cancelled", 7, "SIGTERM"));
        QVERIFY(r);
        QCOMPARE(r->kind, RecordKind::End);
        QCOMPARE(r->status, std::string("cancelled"));
        QCOMPARE(r->step, std::optional<long long>(7));

        // A record type this build does not know is kept (forward compatible), as Other.
        r = parse(R"({"t":"gpu_temp","step":3,"celsius":71})");
        QVERIFY(r);
        QCOMPARE(r->kind, RecordKind::Other);
        QCOMPARE(r->type, std::string("gpu_temp"));
    }

    void nullsEscapesAndUnknownFields() {
        const auto r = parse(
            R"( { "loss" : null , "t" : "st\u0065p", "x":{"a":[1,{"b":null}],"c":"\ud83d\ude00"},)"
            R"("step":5, "tokens":1e3, "lr":-2.5E-4, "ok":true, "no":false } )");
        QVERIFY(r);
        QCOMPARE(r->type, std::string("step")); // \u0065 is 'e'
        QCOMPARE(r->kind, RecordKind::Step);
        QVERIFY(!col(*r, MetricColumn::Loss));
        QCOMPARE(col(*r, MetricColumn::Tokens), std::optional<double>(1000));
        QCOMPARE(col(*r, MetricColumn::Lr), std::optional<double>(-2.5e-4));
        // A repeated key: the later value wins, as in QJsonDocument.
        const auto twice = parse(R"({"t":"step","step":1,"loss":1.5,"loss":2.5})");
        QVERIFY(twice);
        QCOMPARE(col(*twice, MetricColumn::Loss), std::optional<double>(2.5));
        // "step": null on a record that needs none.
        const auto sw = parse(R"({"t":"resume","step":null})");
        QVERIFY(sw);
        QVERIFY(!sw->step);
        // Multi-byte UTF-8 in a string.
        QVERIFY(parse(R"({"t":"end","status":"failed","message":"Ünïcödé ✓ 😀"})"));
    }

    void refused_data() {
        QTest::addColumn<QByteArray>("line");
        QTest::newRow("empty") << QByteArray("");
        QTest::newRow("array") << QByteArray(R"([{"t":"step","step":1}])");
        QTest::newRow("number") << QByteArray("42");
        QTest::newRow("no t") << QByteArray(R"({"step":1,"loss":2})");
        QTest::newRow("t not a string") << QByteArray(R"({"t":1,"step":1})");
        QTest::newRow("torn") << QByteArray(R"({"t":"step","step":1,"loss":2.)");
        QTest::newRow("torn string")
            << QByteArray("{\"t\":\"st"); // (no raw string: moc would misread it)
        QTest::newRow("trailing text") << QByteArray(R"({"t":"step","step":1} x)");
        QTest::newRow("two objects") << QByteArray(R"({"t":"step","step":1}{"t":"step","step":2})");
        QTest::newRow("trailing comma") << QByteArray(R"({"t":"step","step":1,})");
        QTest::newRow("single quotes") << QByteArray(R"({'t':'step','step':1})");
        QTest::newRow("bare key") << QByteArray(R"({t:"step","step":1})");
        QTest::newRow("step negative") << QByteArray(R"({"t":"step","step":-1})");
        QTest::newRow("step fraction") << QByteArray(R"({"t":"step","step":1.5})");
        QTest::newRow("step string") << QByteArray(R"({"t":"step","step":"1"})");
        QTest::newRow("step huge") << QByteArray(R"({"t":"step","step":1e300})");
        QTest::newRow("step missing") << QByteArray(R"({"t":"step","loss":1})");
        QTest::newRow("eval step missing") << QByteArray(R"({"t":"eval","val_loss":1})");
        QTest::newRow("loss string") << QByteArray(R"({"t":"step","step":1,"loss":"2.0"})");
        QTest::newRow("loss NaN") << QByteArray(R"({"t":"step","step":1,"loss":NaN})");
        QTest::newRow("loss Infinity") << QByteArray(R"({"t":"step","step":1,"loss":Infinity})");
        QTest::newRow("loss overflow") << QByteArray(R"({"t":"step","step":1,"loss":1e400})");
        QTest::newRow("leading zero") << QByteArray(R"({"t":"step","step":01})");
        QTest::newRow("plus sign") << QByteArray(R"({"t":"step","step":+1})");
        QTest::newRow("bare dot") << QByteArray(R"({"t":"step","step":1,"loss":.5})");
        QTest::newRow("dot no digit") << QByteArray(R"({"t":"step","step":1,"loss":5.})");
        QTest::newRow("bad literal") << QByteArray(R"({"t":"step","step":1,"x":tru})");
        QTest::newRow("bad escape") << QByteArray(R"({"t":"st\x65p","step":1})");
        QTest::newRow("short unicode escape") << QByteArray(R"({"t":"\u00","step":1})");
        QTest::newRow("lone high surrogate") << QByteArray(R"({"t":"step","step":1,"m":"\ud83d"})");
        QTest::newRow("lone low surrogate") << QByteArray(R"({"t":"step","step":1,"m":"\ude00"})");
        QTest::newRow("control char") << QByteArray("{\"t\":\"st\x01p\",\"step\":1}");
        QTest::newRow("invalid utf8") << QByteArray("{\"t\":\"step\",\"step\":1,\"m\":\"\xff\"}");
        QTest::newRow("overlong utf8")
            << QByteArray("{\"t\":\"step\",\"step\":1,\"m\":\"\xc0\xaf\"}");
        QTest::newRow("utf8 surrogate")
            << QByteArray("{\"t\":\"step\",\"step\":1,\"m\":\"\xed\xa0\x80\"}");
        QTest::newRow("nul byte") << QByteArray(R"({"t":"step","step":1})") + '\0';
        QTest::newRow("unclosed nested") << QByteArray(R"({"t":"step","step":1,"x":[1,2})");
        QTest::newRow("too deep") << QByteArray(R"({"t":"x","d":)") + QByteArray(200, '[') +
                                         QByteArray(200, ']') + "}";
    }
    void refused() {
        QFETCH(QByteArray, line);
        std::string error;
        const auto r = parse(line, &error);
        QVERIFY2(!r, line.constData());
        QVERIFY2(!error.empty(), "a refused line names the reason");
    }

    // Values agree with QJsonDocument on every engine record and on lines with random values,
    // keys in random order and random whitespace.
    void agreesWithQJsonDocument() {
        QRandomGenerator rng(12345);
        QList<QByteArray> lines = {bcd::test::startLine(),
                                   bcd::test::stepLine(1, 5.5),
                                   bcd::test::evalLine(10, 4.25),
                                   bcd::test::switchLine(25, 0, 1),
                                   bcd::test::ckptLine(50),
                                   bcd::test::resumeLine(50),
                                   bcd::test::endLine("failed", 51, "out of memory")};
        const char* keys[] = {"tokens", "elapsed_s", "loss",     "lr",         "block", "grad_norm",
                              "tok_s",  "mem_bytes", "val_loss", "comm_bytes", "extra"};
        for (int i = 0; i < 2000; ++i) {
            QList<QByteArray> fields;
            fields << R"("t":"step")"
                   << R"("step":)" + QByteArray::number(rng.bounded(1000000));
            for (const char* k : keys) {
                if (rng.bounded(4) == 0) continue;
                QByteArray v;
                switch (rng.bounded(5)) {
                case 0:
                    v = "null";
                    break;
                case 1:
                    v = QByteArray::number(rng.bounded(1 << 30));
                    break;
                case 2:
                    v = QByteArray::number(rng.generateDouble() * 1e6 - 5e5, 'g', 17);
                    break;
                case 3:
                    v = QByteArray::number(std::ldexp(rng.generateDouble(), rng.bounded(-300, 300)),
                                           'e', 16);
                    break;
                default:
                    v = QByteArray::number(-rng.generateDouble(), 'f', rng.bounded(1, 25));
                    break;
                }
                fields << '"' + QByteArray(k) + "\":" + v;
            }
            std::shuffle(fields.begin(), fields.end(), rng);
            const QByteArray ws = rng.bounded(2) ? " " : "";
            lines << '{' + ws + fields.join(ws + ',' + ws) + ws + '}';
        }
        for (QByteArray line : lines) {
            if (line.endsWith('\n')) line.chop(1);
            QJsonParseError err;
            const QJsonDocument doc = QJsonDocument::fromJson(line, &err);
            QVERIFY2(err.error == QJsonParseError::NoError && doc.isObject(), line.constData());
            const auto r = parse(line);
            QVERIFY2(r, line.constData());
            const QJsonObject o = doc.object();
            QCOMPARE(QString::fromStdString(r->type), o.value(QLatin1String("t")).toString());
            if (o.value(QLatin1String("step")).isDouble())
                QCOMPARE(r->step,
                         std::optional<long long>(o.value(QLatin1String("step")).toInteger()));
            QCOMPARE(r->values, referenceColumns(o));
        }
    }

    // Every prefix of a record (a torn line) is refused, never misread as a shorter record.
    void everyPrefixRefused() {
        QByteArray line = bcd::test::stepLine(123456, 2.75);
        line.chop(1);
        for (qsizetype n = 0; n < line.size(); ++n) {
            const QByteArray prefix = line.left(n);
            QVERIFY2(!parse(prefix), prefix.constData());
        }
        QVERIFY(parse(line));
    }
};

QTEST_APPLESS_MAIN(TestMetricsRecord)
#include "tst_metrics_record.moc"
