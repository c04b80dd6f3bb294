#pragma once
// RunInfoDialog: the user's description of a run (name, tags, notes), for the Runs page's Edit….
// Tags are typed comma-separated; the name may not be empty.

#include <QDialog>
#include <QStringList>

class QLabel;
class QLineEdit;
class QPlainTextEdit;

namespace bcd::ui {

class RunInfoDialog : public QDialog {
    Q_OBJECT
public:
    explicit RunInfoDialog(QWidget* parent = nullptr);

    void setInfo(const QString& name, const QStringList& tags, const QString& notes);
    QString name() const;
    QStringList tags() const; // trimmed, without empty or repeated ones, in the order typed
    QString notes() const;
    // Why the form cannot be saved, empty when it can.
    QString problem() const;

    // "a, b ,, a" → {"a", "b"}.
    static QStringList parseTags(const QString& text);

    void accept() override;

private:
    QLineEdit* name_;
    QLineEdit* tags_;
    QPlainTextEdit* notes_;
    QLabel* error_;
};

} // namespace bcd::ui
