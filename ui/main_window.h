#pragma once
// The main window: navigation on the left (Runs, New run, Monitor, Compare, Nodes; Ctrl+1 …
// Ctrl+5 in that order), the pages in a stack, a status bar for the workbench's messages. The
// window's geometry, state and last page are remembered (QSettings).

#include <QMainWindow>

class QListWidget;
class QStackedWidget;

namespace bcd::ui {

class Workbench;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    enum Page { Runs = 0, NewRun, Monitor, Compare, Nodes, PageCount };

    explicit MainWindow(Workbench& wb, QWidget* parent = nullptr);
    ~MainWindow() override;

    void showPage(Page page);
    Page currentPage() const;
    QWidget* page(Page page) const;

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    Workbench& wb_;
    QListWidget* nav_ = nullptr;
    QStackedWidget* stack_ = nullptr;
};

} // namespace bcd::ui
