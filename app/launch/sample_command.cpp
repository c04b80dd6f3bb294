#include "launch/sample_command.h"

#include <QRegularExpression>
#include <algorithm>

namespace bcd::launch {

namespace {
const QRegularExpression& stepName() {
    static const QRegularExpression re(QStringLiteral("^step-([0-9]{1,18})$"));
    return re;
}
} // namespace

QStringList checkpointsFromListing(const QStringList& paths) {
    QStringList out;
    if (paths.contains(QStringLiteral("final/config.json"))) out << QStringLiteral("final");
    QVector<std::pair<qint64, QString>> steps;
    static const QRegularExpression done(QStringLiteral("^checkpoints/(step-[0-9]{1,18})/DONE$"));
    for (const QString& p : paths) {
        const auto m = done.match(p);
        if (!m.hasMatch()) continue;
        const QString name = m.captured(1);
        steps.push_back({name.mid(5).toLongLong(), name});
    }
    std::sort(steps.begin(), steps.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second > b.second;
    });
    for (const auto& s : steps)
        if (!out.contains(s.second)) out << s.second;
    return out;
}

bool isCheckpointName(const QString& name) {
    return name == QLatin1String("final") || stepName().match(name).hasMatch();
}

void checkSampleRequest(const SampleRequest& req) {
    if (!isCheckpointName(req.checkpoint))
        throw LaunchError(QStringLiteral("checkpoint '%1': expected final or step-N")
                              .arg(req.checkpoint.left(60)),
                          true);
    if (req.maxNew < 0)
        throw LaunchError(
            QStringLiteral("max new tokens: expected 0 or more, got %1").arg(req.maxNew), true);
    if (!(req.temperature >= 0.0 && req.temperature <= 100.0))
        throw LaunchError(
            QStringLiteral("temperature: expected 0 to 100, got %1").arg(req.temperature), true);
    if (!(req.topP > 0.0 && req.topP <= 1.0))
        throw LaunchError(QStringLiteral("top-p: expected a value in (0, 1], got %1").arg(req.topP),
                          true);
    if (req.seed < 0)
        throw LaunchError(QStringLiteral("seed: expected 0 or more, got %1").arg(req.seed), true);
}

QStringList sampleArguments(const QString& modelDir, const SampleRequest& req) {
    QStringList a{QStringLiteral("sample"),
                  QStringLiteral("--model"),
                  modelDir,
                  QStringLiteral("--prompt"),
                  req.prompt,
                  QStringLiteral("--max-new"),
                  QString::number(req.maxNew),
                  QStringLiteral("--temperature"),
                  QString::number(req.temperature),
                  QStringLiteral("--top-p"),
                  QString::number(req.topP),
                  QStringLiteral("--seed"),
                  QString::number(req.seed)};
    if (req.threads > 0) a << QStringLiteral("--threads") << QString::number(req.threads);
    if (!req.device.isEmpty()) a << QStringLiteral("--device") << req.device;
    return a;
}

nodes::ShellCommand checkpointListingCommand(const QString& runDir) {
    return nodes::ShellCommand().op("cd").arg(runDir).op(
        "2>/dev/null || exit 3; for f in final/config.json checkpoints/step-*/DONE; do "
        "[ -e \"$f\" ] && printf '%s\\n' \"$f\"; done; exit 0");
}

nodes::ShellCommand pidThenExec(const QStringList& argv) {
    return nodes::ShellCommand().op("echo $$; exec").args(argv);
}

QByteArray PidThenOutput::feed(const QByteArray& chunk) {
    if (seen_) return chunk;
    head_ += chunk;
    const qsizetype nl = head_.indexOf('\n');
    if (nl < 0) return {};
    seen_ = true;
    pid_ = head_.left(nl).trimmed().toLongLong();
    QByteArray rest = head_.mid(nl + 1);
    head_.clear();
    return rest;
}

QString lastLines(const QByteArray& text, int n) {
    QStringList kept;
    const QList<QByteArray> lines = text.split('\n');
    for (auto it = lines.rbegin(); it != lines.rend() && kept.size() < n; ++it)
        if (!it->trimmed().isEmpty()) kept.prepend(QString::fromUtf8(it->trimmed()));
    return kept.join(QStringLiteral("; "));
}

} // namespace bcd::launch
