#include "ui/pages/nodes_page.h"

#include "launch/node_prober.h"
#include "nodes/node_probe.h"
#include "sdk/remote_node.h"
#include "store/node_price.h"
#include "ui/widgets/host_key_dialog.h"
#include "ui/widgets/node_dialog.h"
#include "ui/workbench.h"

#include <QColor>
#include <QDateTime>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

namespace bcd::ui {

NodesPage::NodesPage(Workbench& wb, QWidget* parent) : QWidget(parent), wb_(wb) {
    auto* layout = new QVBoxLayout(this);
    table_ = new QTableWidget(0, ColumnCount, this);
    table_->setObjectName(QStringLiteral("nodesTable"));
    table_->setHorizontalHeaderLabels(
        {tr("Name"), tr("Kind"), tr("Host"), tr("GPUs"), tr("Engine"), tr("Probed"), tr("Price")});
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->verticalHeader()->hide();
    table_->setAlternatingRowColors(true);
    table_->horizontalHeader()->setSectionResizeMode(Gpus, QHeaderView::Stretch);
    for (int c : {Name, Kind, Host, Engine, Probed, Price})
        table_->horizontalHeader()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    details_ = new QLabel(this);
    details_->setObjectName(QStringLiteral("nodeDetails"));
    details_->setWordWrap(true);
    details_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    details_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    details_->setMargin(6);
    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(table_);
    split->addWidget(details_);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 1);
    layout->addWidget(split, 1);
    priceNote_ = new QLabel(this);
    priceNote_->setObjectName(QStringLiteral("priceNote"));
    priceNote_->setWordWrap(true);
    priceNote_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    priceNote_->hide();
    layout->addWidget(priceNote_);

    auto* buttons = new QHBoxLayout;
    add_ = new QPushButton(tr("Add node…"), this);
    add_->setToolTip(
        tr("A machine reachable by SSH with keys (or the agent); its host key is checked"));
    edit_ = new QPushButton(tr("Edit…"), this);
    edit_->setToolTip(tr("Change the node's settings; runs on it keep referring to it"));
    remove_ = new QPushButton(tr("Remove"), this);
    remove_->setToolTip(
        tr("Removes the node from the workbench (not possible while runs refer to it)"));
    probe_ = new QPushButton(tr("Probe"), this);
    probe_->setToolTip(tr("Ask the node for its GPUs, CPU, memory and engine version"));
    for (QPushButton* b : {add_, edit_, remove_, probe_}) buttons->addWidget(b);
    buttons->addStretch(1);
    layout->addLayout(buttons);

    connect(add_, &QPushButton::clicked, this, &NodesPage::addDialog);
    connect(edit_, &QPushButton::clicked, this, &NodesPage::editDialog);
    connect(remove_, &QPushButton::clicked, this, [this] {
        const QString n = selectedNode();
        if (n.isEmpty()) return;
        if (QMessageBox::question(this, tr("Remove node"),
                                  tr("Remove the node %1 from the workbench?").arg(n)) ==
            QMessageBox::Yes)
            removeNode(n);
    });
    connect(probe_, &QPushButton::clicked, this, [this] {
        if (const QString n = selectedNode(); !n.isEmpty()) probe(n);
    });
    connect(table_, &QTableWidget::itemSelectionChanged, this, &NodesPage::updateActions);
    connect(table_, &QTableWidget::cellDoubleClicked, this, &NodesPage::editDialog);
    connect(&wb, &Workbench::nodesChanged, this, &NodesPage::refresh);
    connect(&wb.store(), &store::StoreService::opened, this, &NodesPage::refresh);
    connect(&wb.prober(), &launch::NodeProber::finished, this,
            [this](const launch::ProbeOutcome& o) {
                if (probing_.contains(o.node)) probeDone(o);
            });
    refresh();
}

// A probe still running ends on the workbench's prober; its outcome is dropped with this page.
NodesPage::~NodesPage() = default;

void NodesPage::refresh() {
    wb_.store().call([](store::RunStore& s) { return s.nodes(); }, this,
                     [this](const QVector<store::NodeRecord>& nodes) { showNodes(nodes); });
}

QStringList NodesPage::nodeNames() const {
    QStringList names;
    for (const auto& n : nodes_) names << n.name;
    return names;
}

int NodesPage::probesRunning() const {
    return probing_.size();
}

QString NodesPage::priceNote() const {
    return priceNote_->text();
}

QString NodesPage::selectedNode() const {
    const int row = table_->currentRow();
    return row >= 0 && table_->item(row, Name) ? table_->item(row, Name)->text() : QString();
}

void NodesPage::showNodes(const QVector<store::NodeRecord>& nodes) {
    const QString selected = selectedNode();
    nodes_ = nodes;
    table_->setRowCount(0);
    for (const store::NodeRecord& n : nodes_) {
        const int row = table_->rowCount();
        table_->insertRow(row);
        const nodes::NodeProbe p = nodes::NodeProbe::fromJson(n.probe);
        const bool probed = !n.probe.isEmpty();
        QString gpus;
        const QString failed = unreachable_.value(n.name);
        if (probing_.contains(n.name))
            gpus = tr("probing …");
        else if (!failed.isEmpty())
            gpus = tr("unreachable: %1").arg(failed);
        else if (!probed)
            gpus = tr("not probed");
        else if (!p.partitions.isEmpty()) {
            QStringList parts;
            for (const auto& part : p.partitions)
                parts << (part.gpusPerNode > 0
                              ? tr("%1: %2× %3 per node")
                                    .arg(part.name)
                                    .arg(part.gpusPerNode)
                                    .arg(part.gpuType.isEmpty() ? tr("GPU") : part.gpuType)
                              : tr("%1: CPU").arg(part.name));
            gpus = tr("Slurm: ") + parts.join(QStringLiteral("; "));
        } else if (p.cpuOnly())
            gpus = tr("CPU only: %1 threads, %2 GiB")
                       .arg(p.cpuThreads)
                       .arg(p.memoryBytes / 1073741824.0, 0, 'f', 1);
        else {
            QMap<QString, int> count;
            for (const auto& g : p.gpus)
                ++count[QStringLiteral("%1 (%2 GiB)")
                            .arg(g.name)
                            .arg(g.memoryMiB / 1024.0, 0, 'f', 0)];
            QStringList parts;
            for (auto it = count.begin(); it != count.end(); ++it)
                parts << QStringLiteral("%1 × %2").arg(it.value()).arg(it.key());
            gpus = parts.join(QStringLiteral(", "));
        }
        const QString host = n.kind == QLatin1String("local")
                                 ? tr("this machine")
                                 : QStringLiteral("%1%2:%3")
                                       .arg(n.user.isEmpty() ? QString() : n.user + '@', n.host)
                                       .arg(n.port);
        const QString engine = !probed                     ? QString()
                               : p.engineVersion.isEmpty() ? tr("none (%1)").arg(p.engineNote)
                                                           : p.engineVersion;
        const QString when =
            n.probedAt > 0 ? QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(n.probedAt * 1000))
                                 .toString(QStringLiteral("yyyy-MM-dd HH:mm"))
                           : QString();
        const QString price =
            n.pricePerHour ? QStringLiteral("$%1/h").arg(*n.pricePerHour, 0, 'f', 2) : QString();
        const QStringList cells{n.name, n.kind, host, gpus, engine, when, price};
        for (int c = 0; c < ColumnCount; ++c)
            table_->setItem(row, c, new QTableWidgetItem(cells[c]));
        if (!failed.isEmpty()) {
            table_->item(row, Gpus)->setForeground(QColor(0xd6, 0x27, 0x28));
            table_->item(row, Gpus)->setToolTip(
                probed ? tr("%1\n\nThe last successful probe: %2").arg(failed, p.summary())
                       : failed);
        } else if (probed) {
            table_->item(row, Gpus)->setToolTip(p.summary());
        }
        if (n.name == selected || (selected.isEmpty() && row == 0)) table_->selectRow(row);
    }
    updateActions();
    emit refreshed();
}

void NodesPage::updateActions() {
    const QString name = selectedNode();
    store::NodeRecord n;
    for (const auto& r : nodes_)
        if (r.name == name) n = r;
    const bool ssh = n.kind == QLatin1String("ssh") || n.kind == QLatin1String("slurm");
    edit_->setEnabled(!name.isEmpty()); // local: its price only
    remove_->setEnabled(ssh);
    probe_->setEnabled(!name.isEmpty() && !probing_.contains(name));
    if (name.isEmpty()) {
        details_->clear();
        return;
    }
    QString text = QStringLiteral("<b>%1</b> (%2)").arg(n.name.toHtmlEscaped(), n.kind);
    if (!n.probe.isEmpty())
        text +=
            QStringLiteral("<br>") + nodes::NodeProbe::fromJson(n.probe).summary().toHtmlEscaped();
    else
        text += tr("<br>Not probed yet: Probe asks it for its GPUs, CPU and engine.");
    if (ssh) {
        text +=
            tr("<br>identity %1 · known_hosts %2 · engine %3 · runs in %4")
                .arg(n.identity.isEmpty() ? tr("agent / default keys") : n.identity.toHtmlEscaped(),
                     n.knownHosts.isEmpty() ? QStringLiteral("~/.ssh/known_hosts")
                                            : n.knownHosts.toHtmlEscaped(),
                     n.engine.isEmpty() ? tr("bcd-train on PATH, else uploaded")
                                        : n.engine.toHtmlEscaped(),
                     n.runRoot.isEmpty() ? tr("the default folder") : n.runRoot.toHtmlEscaped());
    }
    details_->setText(text);
}

void NodesPage::addDialog() {
    NodeDialog d(this);
    d.setWindowTitle(tr("Add node (SSH host or Slurm cluster)"));
    if (d.exec() == QDialog::Accepted) saveNode(d.record());
}

void NodesPage::editDialog() {
    const QString name = selectedNode();
    for (const auto& n : nodes_) {
        if (n.name != name) continue;
        NodeDialog d(this);
        d.setWindowTitle(n.kind == QLatin1String("local") ? tr("This machine (local): its price")
                                                          : tr("Edit node %1").arg(name));
        d.setRecord(n);
        if (d.exec() == QDialog::Accepted) updateNode(d.record());
        return;
    }
}

void NodesPage::saveNode(const store::NodeRecord& node) {
    wb_.store().call([node](store::RunStore& s) { s.addNode(node); }, this,
                     [this, node] {
                         emit wb_.message(tr("Node %1 saved; probing it …").arg(node.name));
                         emit wb_.nodesChanged();
                         probe(node.name);
                     },
                     [this](const QString& m) {
                         emit wb_.message(tr("Saving the node failed: %1").arg(m));
                         QMessageBox::warning(this, tr("Node not saved"), m);
                     });
}

void NodesPage::updateNode(const store::NodeRecord& node) {
    // In place (the store keeps the id, so runs on the node stay valid); the store says whether
    // the connection changed by clearing the probe of a node that had one.
    // A changed price reaches the node's active runs from now (store/node_price.h), and the page
    // says so: which runs, and that finished ones keep their cost.
    wb_.store().call([node](store::RunStore& s) { return store::saveNodeSettings(s, node); }, this,
                     [this, node](const store::NodePriceChange& change) {
                         const bool connectionChanged = change.connectionChanged;
                         const QString priceText = store::describe(change);
                         if (change.priceChanged()) {
                             priceNote_->setText(priceText);
                             priceNote_->show();
                         }
                         QString saved = connectionChanged
                                             ? tr("Node %1 saved; probing it …").arg(node.name)
                                             : tr("Node %1 saved").arg(node.name);
                         if (!priceText.isEmpty()) saved += QStringLiteral(". ") + priceText;
                         emit wb_.message(saved);
                         emit wb_.nodesChanged();
                         emit nodeUpdated(node.name, true, {});
                         if (connectionChanged) probe(node.name);
                     },
                     [this, node](const QString& m) {
                         emit wb_.message(tr("Saving the node failed: %1").arg(m));
                         emit nodeUpdated(node.name, false, m);
                         auto* box = new QMessageBox(QMessageBox::Warning, tr("Node not saved"), m,
                                                     QMessageBox::Ok, this);
                         box->setObjectName(QStringLiteral("nodeNotSaved"));
                         box->setAttribute(Qt::WA_DeleteOnClose);
                         box->open();
                     });
}

void NodesPage::removeNode(const QString& name) {
    wb_.store().call(
        [name](store::RunStore& s) { s.removeNode(name); }, this,
        [this, name] {
            emit wb_.message(tr("Node %1 removed").arg(name));
            emit wb_.nodesChanged();
        },
        [this](const QString& m) { emit wb_.message(tr("Removing the node failed: %1").arg(m)); });
}

void NodesPage::probe(const QString& name, const QString& acceptFingerprint) {
    if (probing_.contains(name)) return;
    // The record as stored now (an edit may just have changed it).
    wb_.store().call([name](store::RunStore& s) { return s.node(name); }, this,
                     [this, name, acceptFingerprint](const std::optional<store::NodeRecord>& node) {
                         if (!node || probing_.contains(name)) return;
                         probing_ << name;
                         showNodes(nodes_);
                         emit wb_.message(tr("Probing %1 …").arg(name));
                         wb_.prober().probe(*node, acceptFingerprint);
                     });
}

void NodesPage::probeDone(const launch::ProbeOutcome& o) {
    probing_.removeAll(o.node);
    using P = launch::ProbeOutcome::Problem;
    if (o.problem == P::None) {
        unreachable_.remove(o.node);
        const QJsonObject probe = o.probe;
        const QString name = o.node;
        wb_.store().call(
            [name, probe](store::RunStore& s) { s.setNodeProbe(name, probe); }, this,
            [this, name, probe] {
                emit wb_.message(
                    tr("%1: %2").arg(name, nodes::NodeProbe::fromJson(probe).summary()));
                emit wb_.nodesChanged();
                emit probeFinished(name, true, {});
            },
            [this, name](const QString& m) {
                emit wb_.message(tr("Storing the probe of %1 failed: %2").arg(name, m));
                emit probeFinished(name, false, m);
            });
        return;
    }
    // The row says why: the probe's own message, or the host key's state.
    QString reason = o.message;
    if (o.problem == P::HostKeyUnknown) reason = tr("host key not yet trusted");
    if (o.problem == P::HostKeyChanged) reason = tr("host key changed, connection refused");
    unreachable_.insert(o.node, reason);
    showNodes(nodes_);
    if (o.problem == P::HostKeyUnknown) {
        store::NodeRecord node;
        for (const auto& n : nodes_)
            if (n.name == o.node) node = n;
        if (hostKeyDialog_) hostKeyDialog_->deleteLater();
        hostKeyDialog_ =
            new HostKeyDialog(o.node, sdk::endpointOf(node).display(), o.hostKey, this);
        hostKeyDialog_->setAttribute(Qt::WA_DeleteOnClose);
        const QString name = o.node;
        const QString fingerprint = o.hostKey.sha256;
        connect(hostKeyDialog_, &QDialog::accepted, this,
                [this, name, fingerprint] { probe(name, fingerprint); });
        connect(hostKeyDialog_, &QDialog::rejected, this, [this, name] {
            emit wb_.message(tr("%1: host key not trusted; the node stays unreachable").arg(name));
            emit probeFinished(name, false, tr("host key not trusted"));
        });
        hostKeyDialog_->open();
        return;
    }
    const QString title =
        o.problem == P::HostKeyChanged ? tr("Host key refused") : tr("Probe failed");
    QString text = o.message;
    if (o.problem == P::HostKeyChanged)
        text = tr("The host key of %1 is not the one in known_hosts: connection refused (it may be "
                  "an attack, or a "
                  "reinstalled host — fix known_hosts yourself if you know why).\n\n%2")
                   .arg(o.node, o.message);
    emit wb_.message(tr("%1: %2").arg(o.node, o.message));
    emit probeFinished(o.node, false, text);
    auto* box = new QMessageBox(QMessageBox::Warning, title, text, QMessageBox::Ok, this);
    box->setObjectName(o.problem == P::HostKeyChanged ? QStringLiteral("hostKeyRefused")
                                                      : QStringLiteral("probeFailed"));
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

} // namespace bcd::ui
