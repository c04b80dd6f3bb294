#pragma once
// Sample: try a trained model. Two columns side by side (A and B), each a run and one of its
// checkpoints (final, or any complete checkpoints/step-N), one shared prompt and sampling settings
// (temperature, top-p, max new tokens, seed); Generate runs `bcd-train sample` on each chosen
// checkpoint as a child process and streams its text into the column. Nothing waits on the GUI
// thread: the processes report through signals, and a new Generate or closing the page stops
// them. Runs on this machine only: a run on an SSH or Slurm node is listed with the reason it
// cannot be sampled here (docs/user-guide.md).

#include <QPointer>
#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPlainTextEdit;
class QProcess;
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
    void choose(int side, qint64 runId, const QString& checkpoint);
    QStringList checkpoints(int side) const; // as offered for the column's run
    void setPrompt(const QString& prompt);
    void setSettings(double temperature, double topP, int maxNew, int seed);
    void generate();
    QString output(int side) const;
    bool busy() const;
    // The model folders the columns would sample (empty when none is chosen).
    QString modelDir(int side) const;

signals:
    void finished(); // every column's process has ended

private:
    struct Column {
        QComboBox* run = nullptr;
        QComboBox* checkpoint = nullptr;
        QPlainTextEdit* text = nullptr;
        QLabel* note = nullptr;
        QPointer<QProcess> process;
    };
    void reloadRuns();
    void fillCheckpoints(int side);
    void start(int side);
    void stopAll();
    void endIfIdle(); // buttons back and finished() once no column's process runs

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
