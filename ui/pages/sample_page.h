#pragma once
// Sample: try a trained model. Two columns side by side (A and B), each a run and one of its
// checkpoints (final, or any complete checkpoints/step-N), one shared prompt and sampling settings
// (temperature, top-p, max new tokens, seed); Generate runs `bcd-train sample` on each chosen
// checkpoint where its run lives — this machine, an SSH node, a Slurm job step — through the
// workbench's RunSampler (launcher sessions on worker threads) and streams its text into the
// column. Checkpoints are listed the same way, so they fill in once the node answers. Nothing
// waits on the GUI thread: answers come as signals, and a new Generate, Stop or closing the page
// only raises stop flags (docs/user-guide.md, "Sample").

#include "store/store_types.h"

#include <QByteArray>
#include <QWidget>
#include <optional>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

namespace bcd::ui {

class Workbench;

class SamplePage : public QWidget {
    Q_OBJECT
public:
    explicit SamplePage(Workbench& wb, QWidget* parent = nullptr);
    ~SamplePage() override;

    // Column `side` (0 = A, 1 = B) samples run `runId`'s `checkpoint` ("final" or "step-N").
    // The checkpoint is selected once the run's listing arrives (checkpointsListed).
    void choose(int side, qint64 runId, const QString& checkpoint);
    QStringList checkpoints(int side) const; // as offered for the column's run (listed so far)
    void setPrompt(const QString& prompt);
    void setSettings(double temperature, double topP, int maxNew, int seed);
    void generate();
    QString output(int side) const;
    bool busy() const;
    // The model folders the columns would sample, on the run's node (empty when none is chosen).
    QString modelDir(int side) const;
    QString note(int side) const; // the column's line under its run: node, listing, errors

signals:
    void finished();                  // every column's sample has ended
    void checkpointsListed(int side); // the column's checkpoints (or why none) arrived

private:
    struct Column {
        QComboBox* run = nullptr;
        QComboBox* checkpoint = nullptr;
        QPlainTextEdit* text = nullptr;
        QLabel* note = nullptr;
        std::optional<store::NodeRecord> node; // the run's node, once the store answered
        QString where;                         // "on node gpu1 (ssh)", empty for this machine
        QString pendingCheckpoint;             // chosen before the listing arrived
        qint64 request = 0;                    // the sample in progress (RunSampler's id)
        bool stopped = false;
        QByteArray bytes; // the text so far (a character's bytes may arrive in two chunks)
    };
    void reloadRuns();
    void fillCheckpoints(int side);
    void listed(qint64 runId, const QStringList& found, const QString& error);
    void start(int side);
    void stopAll();
    void sampleOutput(qint64 request, const QByteArray& chunk);
    void sampleFinished(qint64 request, const QString& error);
    void endIfIdle(); // buttons back and finished() once no column samples

    Workbench& wb_;
    Column cols_[2];
    QPlainTextEdit* prompt_;
    QDoubleSpinBox* temperature_;
    QDoubleSpinBox* topP_;
    QSpinBox* maxNew_;
    QSpinBox* seed_;
    QPushButton* generate_;
    QPushButton* stop_;
};

} // namespace bcd::ui
