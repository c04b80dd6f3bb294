#pragma once
// The main window: navigation on the left (Runs, New run, Monitor, Compare, Nodes, Sample;
// Ctrl+1 … Ctrl+6 in that order), the pages in a stack, a status bar for the workbench's messages
// (always there: pages never shift when a message appears), a menu bar (File: open store, quit;
// Help: user guide on F1, about). The title names the store. The window's geometry, state and last
// page are remembered (QSettings). Monitor opens on the newest active run at start; closing the
// window while runs are active says that they go on (and the next start re-attaches to them).

#include <QMainWindow>

class QListWidget;
class QStackedWidget;

namespace bcd::ui {

class Workbench;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    enum Page { Runs = 0, NewRun, Monitor, Compare, Nodes, Sample, PageCount };

    explicit MainWindow(Workbench& wb, QWidget* parent = nullptr);
    ~MainWindow() override;

    void showPage(Page page);
    Page currentPage() const;
    QWidget* page(Page page) const;
    // Runs not yet finished, failed or cancelled, as last read from the store.
    int activeRuns() const { return activeRuns_; }
    // Where F1 leads: the user guide next to the installed program or in the source tree; empty
    // when neither is there.
    static QString userGuidePath();

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildMenus();
    void readActiveRuns(bool openMonitor);

    Workbench& wb_;
    int activeRuns_ = 0;
    QListWidget* nav_ = nullptr;
    QStackedWidget* stack_ = nullptr;
};

} // namespace bcd::ui
