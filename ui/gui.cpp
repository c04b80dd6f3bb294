#include "ui/gui.h"

#include "launch/run_config.h"
#include "ui/main_window.h"
#include "ui/pages/new_run_page.h"
#include "ui/pages/nodes_page.h"
#include "ui/pages/runs_page.h"
#include "ui/pages/sample_page.h"
#include "ui/widgets/config_form.h"
#include "ui/widgets/plan_view.h"
#include "ui/workbench.h"

#include <QApplication>
#include <QDir>
#include <QFileInfo>
#include <QIcon>
#include <QImage>
#include <QPalette>
#include <QPixmap>
#include <QStyle>
#include <QStyleFactory>
#include <QTimer>
#include <functional>
#include <memory>

namespace bcd::ui {

namespace {

// Fusion draws the same on every desktop and takes the platform's palette, light or dark.
// BCD_THEME=dark (or light) forces one, e.g. for screenshots.
void applyStyle(QApplication& app) {
    QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
    const QByteArray theme = qgetenv("BCD_THEME");
    if (theme == "dark") {
        QPalette p;
        const QColor window(0x2d, 0x2d, 0x30), base(0x1e, 0x1e, 0x1e), text(0xe6, 0xe6, 0xe6);
        p.setColor(QPalette::Window, window);
        p.setColor(QPalette::WindowText, text);
        p.setColor(QPalette::Base, base);
        p.setColor(QPalette::AlternateBase, QColor(0x26, 0x26, 0x28));
        p.setColor(QPalette::ToolTipBase, base);
        p.setColor(QPalette::ToolTipText, text);
        p.setColor(QPalette::PlaceholderText, QColor(0x8a, 0x8a, 0x8a));
        p.setColor(QPalette::Text, text);
        p.setColor(QPalette::Button, QColor(0x3a, 0x3a, 0x3d));
        p.setColor(QPalette::ButtonText, text);
        p.setColor(QPalette::BrightText, Qt::red);
        p.setColor(QPalette::Light, QColor(0x50, 0x50, 0x54));
        p.setColor(QPalette::Midlight, QColor(0x44, 0x44, 0x48));
        p.setColor(QPalette::Mid, QColor(0x5a, 0x5a, 0x5e));
        p.setColor(QPalette::Dark, QColor(0x1a, 0x1a, 0x1c));
        p.setColor(QPalette::Shadow, Qt::black);
        p.setColor(QPalette::Highlight, QColor(0x3d, 0x7a, 0xd6));
        p.setColor(QPalette::HighlightedText, Qt::white);
        p.setColor(QPalette::Link, QColor(0x6c, 0xa8, 0xf0));
        for (auto role : {QPalette::Text, QPalette::ButtonText, QPalette::WindowText})
            p.setColor(QPalette::Disabled, role, QColor(0x80, 0x80, 0x80));
        app.setPalette(p);
    } else if (theme == "light") {
        app.setPalette(QApplication::style()->standardPalette());
    }
}

// BCD_SCREENSHOTS=DIR: shows each page with the store's content, writes DIR/<page>.png
// (BCD_SCREENSHOT_SIZE, palette-reduced when large) and quits. scripts/screenshots.sh drives it.
class ScreenshotTour : public QObject {
public:
    ScreenshotTour(Workbench& wb, MainWindow& window, const QString& dir)
        : QObject(&window), wb_(wb), window_(window), dir_(dir) {
        QDir().mkpath(dir_);
    }

    void start() {
        // The run list first: the tour shows the newest runs.
        wb_.store().call([](store::RunStore& s) { return s.runs(); }, this,
                         [this](const QVector<store::RunRecord>& runs) {
                             for (const auto& r : runs) ids_ << r.id;
                             std::sort(ids_.begin(), ids_.end(), std::greater<>());
                             step(0);
                         },
                         [](const QString& message) {
                             // Say why and stop, rather than wait for the script's timeout.
                             qCritical("screenshots: the store cannot list its runs: %s",
                                       qPrintable(message));
                             QApplication::exit(1);
                         });
    }

private:
    void after(int ms, std::function<void()> f) { QTimer::singleShot(ms, this, std::move(f)); }

    void grab(const QString& name) {
        QApplication::processEvents();
        QImage img = window_.grab().toImage().convertToFormat(QImage::Format_RGB32);
        const QString file = dir_ + QLatin1Char('/') + name +
                             qEnvironmentVariable("BCD_SCREENSHOT_SUFFIX") + QStringLiteral(".png");
        img.save(file);
        if (QFileInfo(file).size() > 140 * 1024)
            img.convertToFormat(QImage::Format_Indexed8, Qt::ThresholdDither | Qt::AvoidDither)
                .save(file);
        qInfo("screenshot %s (%lld bytes)", qPrintable(file),
              static_cast<long long>(QFileInfo(file).size()));
    }

    // The checkpoints are listed on the sampler's thread: Generate once both columns have theirs
    // (or after `tries` × 200 ms), then the picture once the text is there.
    void generateWhenListed(SamplePage* sample, int tries) {
        if (tries > 0 && (sample->modelDir(0).isEmpty() || sample->modelDir(1).isEmpty())) {
            after(200, [this, sample, tries] { generateWhenListed(sample, tries - 1); });
            return;
        }
        sample->generate();
        after(8000, [this] {
            grab(QStringLiteral("sample"));
            step(5);
        });
    }

    void step(int i) {
        switch (i) {
        case 0: {
            window_.showPage(MainWindow::Runs);
            auto* runs = static_cast<RunsPage*>(window_.page(MainWindow::Runs));
            runs->refresh();
            after(1500, [this, runs] {
                if (!ids_.isEmpty()) runs->selectRuns({ids_.first()});
                after(300, [this] {
                    grab(QStringLiteral("runs"));
                    step(1);
                });
            });
            break;
        }
        case 1: {
            auto* page = static_cast<NewRunPage*>(window_.page(MainWindow::NewRun));
            window_.showPage(MainWindow::NewRun);
            // The plan view at its most telling: a real model's shape (weights are not needed to
            // plan) on one consumer GPU, where full training does not fit and BCD does.
            QJsonObject cfg = page->config();
            cfg =
                launch::withConfigValue(cfg, QStringLiteral("model.path"),
                                        page->form()->modelsDir() + QStringLiteral("/qwen2-1.5b"));
            cfg = launch::withConfigValue(cfg, QStringLiteral("train.precision"),
                                          QStringLiteral("bf16"));
            cfg = launch::withConfigValue(cfg, QStringLiteral("data.seq_len"), 1024);
            cfg = launch::withConfigValue(cfg, QStringLiteral("train.batch_size"), 4);
            cfg = launch::withConfigValue(cfg, QStringLiteral("train.steps"), 2000);
            cfg = launch::withConfigValue(cfg, QStringLiteral("bcd.switch_every"), 50);
            page->setConfig(cfg);
            page->setRunName(QStringLiteral("qwen2-1.5b BCD on a 4090"));
            page->planView()->setGpuChoice(QStringLiteral("RTX 4090"), 1);
            after(800, [this, page] {
                page->planView()->replan();
                after(300, [this] {
                    grab(QStringLiteral("new-run"));
                    step(2);
                });
            });
            break;
        }
        case 2:
            if (!ids_.isEmpty())
                emit wb_.openMonitor(ids_.last()); // the first run
            else
                window_.showPage(MainWindow::Monitor);
            after(2500, [this] {
                grab(QStringLiteral("monitor"));
                step(3);
            });
            break;
        case 3:
            if (ids_.size() >= 2)
                emit wb_.openCompare(
                    {ids_[ids_.size() - 1], ids_[ids_.size() - 2]}); // the first two
            else
                window_.showPage(MainWindow::Compare);
            after(2500, [this] {
                grab(QStringLiteral("compare"));
                step(4);
            });
            break;
        case 4: {
            // Sample: the BCD run's final model against full training's, on the same prompt.
            auto* sample = static_cast<SamplePage*>(window_.page(MainWindow::Sample));
            window_.showPage(MainWindow::Sample);
            if (!ids_.isEmpty()) {
                sample->choose(0, ids_.last(), QStringLiteral("final"));
                sample->choose(1, ids_.size() >= 2 ? ids_[ids_.size() - 2] : ids_.last(),
                               QStringLiteral("final"));
            }
            sample->setPrompt(QStringLiteral("ROMEO:\n"));
            sample->setSettings(0.8, 0.95, 160, 1);
            generateWhenListed(sample, 50);
            break;
        }
        case 5: {
            auto* nodes = static_cast<NodesPage*>(window_.page(MainWindow::Nodes));
            window_.showPage(MainWindow::Nodes);
            nodes->probe(QStringLiteral("local"));
            after(3000, [this] {
                grab(QStringLiteral("nodes"));
                // exit(), not quit(): no close events, so no "runs continue" question.
                QApplication::exit(0);
            });
            break;
        }
        }
    }

    Workbench& wb_;
    MainWindow& window_;
    QString dir_;
    QList<qint64> ids_;
};

} // namespace

int runGui(int argc, char** argv, const QString& dbPath) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("bcd-workbench"));
    QApplication::setOrganizationName(QStringLiteral("bcd-workbench"));
    QApplication::setApplicationDisplayName(QStringLiteral("BCD Workbench"));
    // The desktop entry's id (packaging/org.bcdworkbench.Workbench.desktop): Wayland's app id.
    QGuiApplication::setDesktopFileName(QStringLiteral("org.bcdworkbench.Workbench"));
    QIcon icon;
    for (int n : {16, 22, 24, 32, 48, 64, 128, 256})
        icon.addFile(QStringLiteral(":/icons/%1x%1.png").arg(n), QSize(n, n));
    QApplication::setWindowIcon(icon);
    applyStyle(app);
    QDir().mkpath(QFileInfo(dbPath).absolutePath());
    Workbench wb(dbPath);
    MainWindow window(wb);
    const QString shots = qEnvironmentVariable("BCD_SCREENSHOTS");
    if (!shots.isEmpty()) {
        // BCD_SCREENSHOT_SIZE=WxH (default 1280x800), BCD_SCREENSHOT_SUFFIX appended to the
        // file names (scripts/screenshots.sh takes both sizes the docs show).
        const QStringList size =
            qEnvironmentVariable("BCD_SCREENSHOT_SIZE", QStringLiteral("1280x800"))
                .split(QLatin1Char('x'));
        window.resize(size.value(0).toInt() > 0 ? size.value(0).toInt() : 1280,
                      size.value(1).toInt() > 0 ? size.value(1).toInt() : 800);
        window.show();
        auto* tour = new ScreenshotTour(wb, window, shots);
        QTimer::singleShot(1000, tour, [tour] { tour->start(); });
    } else {
        window.show();
    }
    return QApplication::exec();
}

} // namespace bcd::ui
